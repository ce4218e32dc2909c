public import NIOCore
public import ReplogModel

/// The layout of a backup file, as specified in `docs/backup-format.md`. Integers are big-endian.
public enum BackupFormat {
    /// `RPLGBKUP`.
    public static let magic: [UInt8] = Array("RPLGBKUP".utf8)
    public static let version: UInt16 = 1
    /// The largest entry a backup holds; the same as the wire protocol's entry limit.
    public static let maxEntrySize: UInt32 = 16 << 20
    /// Record tags: an entry, or the trailer that ends the file.
    public static let entryTag: UInt8 = 0x45  // "E"
    public static let trailerTag: UInt8 = 0x54  // "T"
    /// Bytes of an entry record before its entry bytes: tag, position, length.
    public static let entryOverhead = 13
    /// Bytes of the trailer: tag, entry count, entry bytes, SHA-256.
    public static let trailerSize = 1 + 8 + 8 + 32
    /// File name extension of a finished backup.
    public static let fileExtension = ".backup"
    /// Prefix of the hidden temporary file a backup is written to before its rename.
    public static let temporaryPrefix = ".tmp-"
}

/// The self-describing header at the start of every backup file.
public struct BackupHeader: Sendable, Hashable {
    public var clusterID: ClusterID
    public var backupID: String
    /// The operator's label; empty for scheduled backups.
    public var label: String
    public var createdAtMilliseconds: UInt64
    /// The log's first position when the backup was taken.
    public var firstPosition: Position
    /// The fixed position the backup was taken up to (inclusive): every learned entry in
    /// `firstPosition ... lastPosition` is in the file, and nothing after it.
    public var lastPosition: Position

    public init(
        clusterID: ClusterID,
        backupID: String,
        label: String,
        createdAtMilliseconds: UInt64,
        firstPosition: Position,
        lastPosition: Position
    ) {
        self.clusterID = clusterID
        self.backupID = backupID
        self.label = label
        self.createdAtMilliseconds = createdAtMilliseconds
        self.firstPosition = firstPosition
        self.lastPosition = lastPosition
    }

    /// Appends the header's bytes.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeBytes(BackupFormat.magic)
        buffer.writeMultipleIntegers(BackupFormat.version, UInt16(0), clusterID.high, clusterID.low)
        Self.writeString(backupID, into: &buffer)
        Self.writeString(label, into: &buffer)
        buffer.writeMultipleIntegers(createdAtMilliseconds, firstPosition, lastPosition)
    }

    static func writeString(_ string: String, into buffer: inout ByteBuffer) {
        let utf8 = Array(string.utf8)
        buffer.writeInteger(UInt16(utf8.count))
        buffer.writeBytes(utf8)
    }
}

/// One entry of a backup: a position of the log and the bytes appended there.
public struct BackupEntry: Sendable, Hashable {
    public var position: Position
    public var bytes: ByteBuffer
    public init(position: Position, bytes: ByteBuffer) {
        self.position = position
        self.bytes = bytes
    }
}

/// What the trailer of a complete backup records.
public struct BackupSummary: Sendable, Hashable {
    public var header: BackupHeader
    public var entryCount: UInt64
    public var entryBytes: UInt64
    /// The first and last positions that hold an entry, if any.
    public var entryRange: ClosedRange<Position>?
    public var sha256: [UInt8]
    public var fileSize: UInt64
}
