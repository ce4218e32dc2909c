public import NIOCore
public import ReplogModel

/// What the live log has that the staged copy lacks, and back (`replog recovery diff`).
///
/// Entries are compared by their bytes, as multisets: positions cannot be compared, because a
/// commit gives the staged entries new positions after the live log's end, so a backup taken
/// before one restore and staged after it holds every entry at another position. An entry is in
/// both when equal bytes occur in both; when equal bytes occur `k` times in the live log and `m`
/// times in the staged copy, the first `min(k, m)` occurrences of each side (in position order)
/// are paired and the rest are listed. The lists are in position order: "only in the live log"
/// is what a commit would discard, "only in the staged copy" is what it would bring back.
///
/// ``sharedPrefix`` counts the entries that are equal, in order, from the start of both: when it
/// equals the staged count, the live log is the staged copy followed by newer entries.
public struct RecoveryDiff: Sendable {
    /// One entry listed by the diff: where it is, its size and first bytes.
    public struct Item: Sendable, Hashable {
        public var position: Position
        public var size: Int
        public var head: ByteBuffer
    }

    struct Digest: Hashable, Sendable {
        var a: UInt64, b: UInt64, c: UInt64, d: UInt64

        init(_ bytes: ByteBuffer) {
            let hasher = SHA256Hasher()
            bytes.withUnsafeReadableBytes { hasher.update($0) }
            let digest = hasher.finish()
            func word(_ offset: Int) -> UInt64 {
                digest[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) }
            }
            a = word(0)
            b = word(8)
            c = word(16)
            d = word(24)
        }
    }

    struct Seen: Sendable {
        var position: Position
        var digest: Digest
        var size: Int
        var head: ByteBuffer
    }

    /// How many bytes of each listed entry are kept.
    public static let headLimit = 128

    private var live: [Seen] = []
    private var staged: [Seen] = []

    public init() {}

    /// Adds the live log's next entry (in position order).
    public mutating func addLive(position: Position, bytes: ByteBuffer) {
        live.append(Self.seen(position, bytes))
    }

    /// Adds the staged copy's next entry (in position order).
    public mutating func addStaged(position: Position, bytes: ByteBuffer) {
        staged.append(Self.seen(position, bytes))
    }

    static func seen(_ position: Position, _ bytes: ByteBuffer) -> Seen {
        Seen(
            position: position,
            digest: Digest(bytes),
            size: bytes.readableBytes,
            head: bytes.getSlice(at: bytes.readerIndex, length: min(headLimit, bytes.readableBytes))!
        )
    }

    /// The comparison of everything added.
    public struct Result: Sendable, Hashable {
        public var liveCount: Int
        public var stagedCount: Int
        /// Entries present on both sides (pairs).
        public var common: Int
        /// Entries equal, in order, from the start of both.
        public var sharedPrefix: Int
        /// In the live log, not in the staged copy: a commit discards them.
        public var onlyLive: [Item]
        /// In the staged copy, not in the live log: a commit brings them back.
        public var onlyStaged: [Item]
    }

    public func result() -> Result {
        var remaining: [Digest: Int] = [:]
        for entry in staged { remaining[entry.digest, default: 0] += 1 }
        // Pair occurrences in order: the first k live occurrences of a content match the first k
        // staged ones, so what remains on the live side is its last occurrences, and vice versa.
        var onlyLive: [Item] = []
        var common = 0
        for entry in live {
            if let count = remaining[entry.digest], count > 0 {
                remaining[entry.digest] = count - 1
                common += 1
            } else {
                onlyLive.append(Item(position: entry.position, size: entry.size, head: entry.head))
            }
        }
        var liveCounts: [Digest: Int] = [:]
        for entry in live { liveCounts[entry.digest, default: 0] += 1 }
        var onlyStaged: [Item] = []
        for entry in staged {
            if let count = liveCounts[entry.digest], count > 0 {
                liveCounts[entry.digest] = count - 1
            } else {
                onlyStaged.append(Item(position: entry.position, size: entry.size, head: entry.head))
            }
        }
        var prefix = 0
        while prefix < live.count, prefix < staged.count, live[prefix].digest == staged[prefix].digest { prefix += 1 }
        return Result(
            liveCount: live.count,
            stagedCount: staged.count,
            common: common,
            sharedPrefix: prefix,
            onlyLive: onlyLive,
            onlyStaged: onlyStaged
        )
    }
}
