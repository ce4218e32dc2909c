public import NIOCore
public import ReplogModel

// Staged recovery (message types 0x60-0x6F, SPEC.md section 5.5): an operator stages a backup on
// the leading coordinator, inspects and edits the staged copy, then commits it or unloads it.

/// Stages a backup: one in the coordinator's backup directory (`backupID`), or a finished upload
/// (`uploadID`). Exactly one of the two is set.
public struct RecoveryStageRequest: Sendable, Hashable {
    /// Chosen by the requester; a retry with the same token is answered with the stage it made
    /// instead of "another backup is already staged".
    public var token: UInt64
    public var backupID: String
    public var uploadID: UInt64
    public var allowForeignCluster: Bool
    public var acceptStale: Bool
    /// Backups older than this are stale; 0 means the coordinator's default (6 hours).
    public var staleAfterSeconds: UInt64

    public init(
        token: UInt64,
        backupID: String = "",
        uploadID: UInt64 = 0,
        allowForeignCluster: Bool = false,
        acceptStale: Bool = false,
        staleAfterSeconds: UInt64 = 0
    ) {
        self.token = token
        self.backupID = backupID
        self.uploadID = uploadID
        self.allowForeignCluster = allowForeignCluster
        self.acceptStale = acceptStale
        self.staleAfterSeconds = staleAfterSeconds
    }

    @usableFromInline
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(token)
        buffer.writeWireString(backupID)
        buffer.writeMultipleIntegers(
            uploadID,
            allowForeignCluster ? UInt8(1) : 0,
            acceptStale ? UInt8(1) : 0,
            staleAfterSeconds
        )
    }

    @usableFromInline
    static func decode(from r: inout PayloadReader) throws(WireError) -> Self {
        Self(
            token: try r.readInteger("token"),
            backupID: try r.readString("backupID", maxLength: WireLimits.maxIdentifierLength),
            uploadID: try r.readInteger("uploadID"),
            allowForeignCluster: try r.readBool("allowForeignCluster"),
            acceptStale: try r.readBool("acceptStale"),
            staleAfterSeconds: try r.readInteger("staleAfterSeconds")
        )
    }
}

/// Where a staged recovery stands.
public enum RecoveryState: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Nothing is staged; writes are served.
    case none = 0
    /// A backup is staged: it can be printed, edited, committed or unloaded; writes are refused.
    case staged = 1
    /// A commit is running.
    case committing = 2
    /// A commit started writing and stopped before it finished (leadership lost, no quorum, a
    /// restart): readers are held at the pre-commit end and writes stay refused until a commit
    /// is run again and finishes.
    case interrupted = 3

    public var description: String {
        switch self {
        case .none: "NONE"
        case .staged: "STAGED"
        case .committing: "COMMITTING"
        case .interrupted: "INTERRUPTED"
        }
    }
}

/// The staged recovery as the leading coordinator sees it; answers stage, status, commit and
/// unload requests.
public struct RecoveryStatusResponse: Sendable, Hashable {
    public var state: RecoveryState
    /// Whether the stage survives a coordinator restart (it is kept under `--backup-dir`).
    public var persisted: Bool
    public var backupID: String
    public var label: String
    public var clusterID: ClusterID
    public var createdAtMilliseconds: UInt64
    /// The backup's position range, from its header.
    public var firstPosition: Position
    public var lastPosition: Position
    /// Entries and entry bytes in the staged copy now (after deletions).
    public var entryCount: UInt64
    public var entryBytes: UInt64
    /// Entries deleted from the staged copy.
    public var deletedCount: UInt64
    /// Once a commit has started: the log's end before it, which readers are held at until the
    /// commit finishes. 0 before.
    public var readCap: Position
    /// Entries the running commit attempt has written.
    public var written: UInt64
    /// The first position of the last finished commit's entries: readers of older positions are
    /// told to restart there. 0 when no commit finished since the coordinator started.
    public var restartFrom: Position
    /// The last position of the last finished commit's entries (`restartFrom - 1` if it restored
    /// no entry).
    public var committedLast: Position
    /// What happened last, for a human (at most 4,096 bytes).
    public var message: String

    public init(
        state: RecoveryState,
        persisted: Bool = false,
        backupID: String = "",
        label: String = "",
        clusterID: ClusterID = ClusterID(high: 0, low: 0),
        createdAtMilliseconds: UInt64 = 0,
        firstPosition: Position = 0,
        lastPosition: Position = 0,
        entryCount: UInt64 = 0,
        entryBytes: UInt64 = 0,
        deletedCount: UInt64 = 0,
        readCap: Position = 0,
        written: UInt64 = 0,
        restartFrom: Position = 0,
        committedLast: Position = 0,
        message: String = ""
    ) {
        self.state = state
        self.persisted = persisted
        self.backupID = backupID
        self.label = label
        self.clusterID = clusterID
        self.createdAtMilliseconds = createdAtMilliseconds
        self.firstPosition = firstPosition
        self.lastPosition = lastPosition
        self.entryCount = entryCount
        self.entryBytes = entryBytes
        self.deletedCount = deletedCount
        self.readCap = readCap
        self.written = written
        self.restartFrom = restartFrom
        self.committedLast = committedLast
        self.message = message
    }

    @usableFromInline
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(state.rawValue, persisted ? UInt8(1) : 0)
        buffer.writeWireString(backupID)
        buffer.writeWireString(label)
        buffer.writeClusterID(clusterID)
        buffer.writeMultipleIntegers(createdAtMilliseconds, firstPosition, lastPosition, entryCount, entryBytes)
        buffer.writeMultipleIntegers(deletedCount, readCap, written, restartFrom, committedLast)
        buffer.writeWireString(message)
    }

    @usableFromInline
    static func decode(from r: inout PayloadReader) throws(WireError) -> Self {
        Self(
            state: try r.readEnum("state", as: RecoveryState.self),
            persisted: try r.readBool("persisted"),
            backupID: try r.readString("backupID", maxLength: WireLimits.maxIdentifierLength),
            label: try r.readString("label", maxLength: WireLimits.maxIdentifierLength),
            clusterID: try r.readClusterID("clusterID"),
            createdAtMilliseconds: try r.readInteger("createdAtMilliseconds"),
            firstPosition: try r.readInteger("firstPosition"),
            lastPosition: try r.readInteger("lastPosition"),
            entryCount: try r.readInteger("entryCount"),
            entryBytes: try r.readInteger("entryBytes"),
            deletedCount: try r.readInteger("deletedCount"),
            readCap: try r.readInteger("readCap"),
            written: try r.readInteger("written"),
            restartFrom: try r.readInteger("restartFrom"),
            committedLast: try r.readInteger("committedLast"),
            message: try r.readString("message", maxLength: WireLimits.maxErrorTextLength)
        )
    }
}

/// One chunk of a backup file sent to the leading coordinator, to be staged with
/// ``RecoveryStageRequest/uploadID``. Chunks come in order; a chunk the coordinator already has
/// (a retry) is acknowledged again.
public struct RecoveryUploadRequest: Sendable, Hashable {
    /// Chosen by the uploader, not 0. A chunk at offset 0 with a new id replaces an upload that
    /// was never staged.
    public var uploadID: UInt64
    /// Where `chunk` goes in the file.
    public var offset: UInt64
    /// Whether this is the file's last chunk.
    public var last: Bool
    /// At most 16 MiB.
    public var chunk: ByteBuffer

    public init(uploadID: UInt64, offset: UInt64, last: Bool, chunk: ByteBuffer) {
        self.uploadID = uploadID
        self.offset = offset
        self.last = last
        self.chunk = chunk
    }

    @usableFromInline
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(uploadID, offset, last ? UInt8(1) : 0)
        buffer.writeWireBytes(chunk)
    }

    @usableFromInline
    static func decode(from r: inout PayloadReader) throws(WireError) -> Self {
        Self(
            uploadID: try r.readInteger("uploadID"),
            offset: try r.readInteger("offset"),
            last: try r.readBool("last"),
            chunk: try r.readBytes("chunk", limit: WireLimits.maxEntrySize)
        )
    }
}

/// The bytes of upload `uploadID` the coordinator holds: the next chunk starts at `received`.
public struct RecoveryUploadResponse: Sendable, Hashable {
    public var uploadID: UInt64
    public var received: UInt64

    public init(uploadID: UInt64, received: UInt64) {
        self.uploadID = uploadID
        self.received = received
    }

    @usableFromInline
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(uploadID, received)
    }

    @usableFromInline
    static func decode(from r: inout PayloadReader) throws(WireError) -> Self {
        Self(uploadID: try r.readInteger("uploadID"), received: try r.readInteger("received"))
    }
}

/// Entries of the staged copy in `from ... to` (inclusive, `from <= to`) whose bytes contain
/// `grep` (every entry when it is empty), at most `maxEntries` and about `maxBytes`.
public struct RecoveryPrintRequest: Sendable, Hashable {
    public var from: Position
    public var to: Position
    public var maxEntries: UInt32
    public var maxBytes: UInt32
    /// At most 255 bytes of UTF-8, matched as bytes, case-sensitively.
    public var grep: String

    public init(from: Position, to: Position, maxEntries: UInt32, maxBytes: UInt32, grep: String = "") {
        self.from = from
        self.to = to
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
        self.grep = grep
    }

    @usableFromInline
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(from, to, maxEntries, maxBytes)
        buffer.writeWireString(grep)
    }

    @usableFromInline
    static func decode(from r: inout PayloadReader) throws(WireError) -> Self {
        let fromOffset = r.offset
        let from: UInt64 = try r.readInteger("from")
        let to: UInt64 = try r.readInteger("to")
        guard from <= to else { throw r.invalid("from", "from \(from) is above to \(to)", at: fromOffset) }
        return Self(
            from: from,
            to: to,
            maxEntries: try r.readInteger("maxEntries"),
            maxBytes: try r.readInteger("maxBytes"),
            grep: try r.readString("grep", maxLength: WireLimits.maxIdentifierLength)
        )
    }
}

/// Staged entries in position order; ask again from `next` while `more` is set.
public struct RecoveryPrintResponse: Sendable, Hashable {
    public var next: Position
    public var more: Bool
    public var entries: [Entry]

    public init(next: Position, more: Bool, entries: [Entry]) {
        self.next = next
        self.more = more
        self.entries = entries
    }

    @usableFromInline
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(next, more ? UInt8(1) : 0)
        buffer.writeEntries(entries)
    }

    @usableFromInline
    static func decode(from r: inout PayloadReader) throws(WireError) -> Self {
        let next: UInt64 = try r.readInteger("next")
        let more = try r.readBool("more")
        return Self(next: next, more: more, entries: try r.readEntries("entries"))
    }
}

/// Deletes entries from the staged copy: the listed positions, or every entry whose bytes
/// contain `grep`. Exactly one of the two is given. Positions already deleted are not an error.
public struct RecoveryDeleteRequest: Sendable, Hashable {
    public var positions: [Position]
    /// At most 255 bytes of UTF-8, matched as bytes, case-sensitively.
    public var grep: String

    public init(positions: [Position] = [], grep: String = "") {
        self.positions = positions
        self.grep = grep
    }

    @usableFromInline
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(positions.count))
        for position in positions { buffer.writeInteger(position) }
        buffer.writeWireString(grep)
    }

    @usableFromInline
    static func decode(from r: inout PayloadReader) throws(WireError) -> Self {
        let count = try r.readCount("positions", minimumElementSize: 8)
        var positions: [Position] = []
        positions.reserveCapacity(count)
        for _ in 0..<count { positions.append(try r.readInteger("positions")) }
        return Self(positions: positions, grep: try r.readString("grep", maxLength: WireLimits.maxIdentifierLength))
    }
}

/// An entry removed from the staged copy: its position, size and first bytes.
public struct RemovedEntry: Sendable, Hashable {
    public var position: Position
    public var size: UInt32
    /// The entry's first bytes (at most ``RemovedEntry/headLimit``).
    public var head: ByteBuffer

    /// How many bytes of a removed entry are sent back.
    public static let headLimit = 128

    public init(position: Position, size: UInt32, head: ByteBuffer) {
        self.position = position
        self.size = size
        self.head = head
    }
}

/// What a delete removed: `removedCount` entries, the first of them listed (up to 10,000), and
/// how many the staged copy still holds.
public struct RecoveryDeleteResponse: Sendable, Hashable {
    public var removedCount: UInt64
    public var remainingCount: UInt64
    public var removed: [RemovedEntry]

    /// The most removed entries a response lists.
    public static let listLimit = 10_000

    public init(removedCount: UInt64, remainingCount: UInt64, removed: [RemovedEntry]) {
        self.removedCount = removedCount
        self.remainingCount = remainingCount
        self.removed = removed
    }

    @usableFromInline
    func encode(into buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(removedCount, remainingCount, UInt32(removed.count))
        for entry in removed {
            buffer.writeMultipleIntegers(entry.position, entry.size)
            buffer.writeWireBytes(entry.head)
        }
    }

    @usableFromInline
    static func decode(from r: inout PayloadReader) throws(WireError) -> Self {
        let removedCount: UInt64 = try r.readInteger("removedCount")
        let remainingCount: UInt64 = try r.readInteger("remainingCount")
        let count = try r.readCount("removed", minimumElementSize: 16)
        var removed: [RemovedEntry] = []
        removed.reserveCapacity(count)
        for _ in 0..<count {
            removed.append(
                RemovedEntry(
                    position: try r.readInteger("removed"),
                    size: try r.readInteger("removed"),
                    head: try r.readBytes("removed", limit: UInt32(RemovedEntry.headLimit))
                )
            )
        }
        return Self(removedCount: removedCount, remainingCount: remainingCount, removed: removed)
    }
}

extension ByteBuffer {
    /// Writes `list<Entry>`: a count, then each entry's position and bytes.
    @usableFromInline
    mutating func writeEntries(_ entries: [Entry]) {
        writeInteger(UInt32(entries.count))
        for entry in entries {
            writeInteger(entry.position)
            writeWireBytes(entry.bytes)
        }
    }
}

extension PayloadReader {
    /// Reads `list<Entry>` (each at least 12 bytes: position and length).
    @usableFromInline
    mutating func readEntries(_ field: StaticString) throws(WireError) -> [Entry] {
        let count = try readCount(field, minimumElementSize: 12)
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let position: UInt64 = try readInteger(field)
            entries.append(Entry(position: position, bytes: try readBytes(field, limit: WireLimits.maxEntrySize)))
        }
        return entries
    }
}
