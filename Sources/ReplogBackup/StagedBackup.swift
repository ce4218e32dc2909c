public import NIOCore
public import ReplogModel

/// A verified backup loaded for a staged recovery: its entries in position order, which the
/// operator prints and edits before committing them (Aurora's staged recovery).
///
/// The whole staged copy is held in memory, about the backup's size: the coordinator serves
/// print and delete from it and writes it on commit.
public struct StagedBackup: Sendable {
    public let summary: BackupSummary
    /// The entries still staged, in increasing position order.
    public private(set) var entries: [BackupEntry]
    /// Positions deleted from the staged copy, in increasing order.
    public var deleted: [Position] { deletedSet.sorted() }
    public private(set) var entryBytes: UInt64
    private var deletedSet: Set<Position> = []

    public init(summary: BackupSummary, entries: [BackupEntry]) {
        self.summary = summary
        self.entries = entries
        entryBytes = entries.reduce(0) { $0 + UInt64($1.bytes.readableBytes) }
    }

    /// Reads every entry of `reader` and checks the whole file (structure and SHA-256) before
    /// anything is staged.
    public static func load(from reader: BackupFileReader) throws(BackupError) -> StagedBackup {
        var entries: [BackupEntry] = []
        while let entry = try reader.next() { entries.append(entry) }
        return StagedBackup(summary: reader.summary!, entries: entries)
    }

    /// Loads and verifies the backup `source` names.
    public static func load(_ source: StageSource) throws(BackupError) -> StagedBackup {
        switch source {
        case .file(let path): return try load(from: BackupFileReader(path: path))
        case .memory(let bytes, let name): return try load(from: BackupFileReader(bytes: bytes, name: name))
        }
    }

    public var header: BackupHeader { summary.header }
    public var deletedCount: Int { deletedSet.count }

    // MARK: Reading

    /// A page of ``page(from:to:grep:maxEntries:maxBytes:)``.
    public struct Page: Sendable, Hashable {
        public var entries: [BackupEntry]
        /// Where the next page starts.
        public var next: Position
        /// Whether staged entries remain in `next ... to`.
        public var more: Bool
    }

    /// The staged entries in `from ... to` whose bytes contain `grep` (all when it is empty), at
    /// most `maxEntries` and about `maxBytes` (at least one entry when one matches).
    public func page(from: Position, to: Position, grep: [UInt8], maxEntries: Int, maxBytes: Int) -> Page {
        var index = firstIndex(atOrAfter: from)
        var found: [BackupEntry] = []
        var bytes = 0
        var next = from
        while index < entries.count, entries[index].position <= to {
            let entry = entries[index]
            if Self.contains(entry.bytes, grep) {
                if !found.isEmpty && (found.count >= maxEntries || bytes + entry.bytes.readableBytes > maxBytes) {
                    break
                }
                found.append(entry)
                bytes += entry.bytes.readableBytes
            }
            next = entry.position &+ 1
            index += 1
        }
        let more = index < entries.count && entries[index].position <= to
        if !more { next = max(next, to == Position.max ? to : to + 1) }
        return Page(entries: found, next: next, more: more)
    }

    /// Index of the first entry at or after `position` (binary search).
    func firstIndex(atOrAfter position: Position) -> Int {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].position < position { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Whether `bytes` contains `needle` (an empty needle is in everything).
    public static func contains(_ bytes: ByteBuffer, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first else { return true }
        return bytes.withUnsafeReadableBytes { haystack in
            guard haystack.count >= needle.count else { return false }
            var start = 0
            let lastStart = haystack.count - needle.count
            while start <= lastStart {
                if haystack[start] == first {
                    var offset = 1
                    while offset < needle.count && haystack[start + offset] == needle[offset] { offset += 1 }
                    if offset == needle.count { return true }
                }
                start += 1
            }
            return false
        }
    }

    // MARK: Editing

    /// Deletes the entries at `positions`, all or none: a position the backup never held is an
    /// error; one deleted earlier is skipped (so a retried delete is harmless). Returns the
    /// entries removed now, in position order.
    public mutating func delete(positions: [Position]) throws(StageEditError) -> [BackupEntry] {
        let wanted = Set(positions)
        var unknown: [Position] = []
        for position in wanted.sorted() where !deletedSet.contains(position) {
            let index = firstIndex(atOrAfter: position)
            if index == entries.count || entries[index].position != position { unknown.append(position) }
        }
        guard unknown.isEmpty else {
            throw .notStaged(unknown, first: entries.first?.position, last: entries.last?.position)
        }
        return remove { wanted.contains($0.position) }
    }

    /// Deletes every entry whose bytes contain `needle` (not empty); returns them in position order.
    public mutating func delete(matching needle: [UInt8]) -> [BackupEntry] {
        precondition(!needle.isEmpty, "an empty pattern would delete everything")
        return remove { Self.contains($0.bytes, needle) }
    }

    private mutating func remove(where matches: (BackupEntry) -> Bool) -> [BackupEntry] {
        var kept: [BackupEntry] = []
        var removed: [BackupEntry] = []
        kept.reserveCapacity(entries.count)
        for entry in entries {
            if matches(entry) { removed.append(entry) } else { kept.append(entry) }
        }
        entries = kept
        for entry in removed {
            deletedSet.insert(entry.position)
            entryBytes -= UInt64(entry.bytes.readableBytes)
        }
        return removed
    }
}

/// Where a backup to stage is: a file, or an upload held in memory.
public enum StageSource: Sendable, Hashable {
    case file(String)
    case memory(ByteBuffer, name: String)
}

/// Why an edit of the staged copy was refused; nothing was changed.
public enum StageEditError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Positions that hold no entry in the staged backup.
    case notStaged([Position], first: Position?, last: Position?)

    public var description: String {
        switch self {
        case .notStaged(let positions, let first, let last):
            let listed = positions.prefix(10).map(String.init).joined(separator: ", ")
            let more = positions.count > 10 ? " and \(positions.count - 10) more" : ""
            let range = first.flatMap { first in last.map { " (it holds entries in \(first)...\($0))" } } ?? ""
            return "the staged backup has no entry at position \(listed)\(more)\(range); nothing was deleted:"
                + " list its entries with `replog recovery print`"
        }
    }
}
