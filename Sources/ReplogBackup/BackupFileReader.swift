public import NIOCore
import ReplogModel

/// Reads a backup file as a stream of entries, checking everything as it goes: the header, the
/// order and range of positions, the trailer's counts and the SHA-256 over the whole file.
///
/// Entries are handed out as they are read, so a caller that restores must treat the restore
/// as failed (and undo it) if a later ``next()`` throws: the checksum is only known at the end.
/// ``verify(path:)`` reads the whole file first, which is what every restore does before
/// writing anything.
public final class BackupFileReader {
    public let path: String
    public private(set) var header: BackupHeader
    /// `nil` for a backup held in memory (``init(bytes:name:)``): then `buffer` holds all of it.
    private let file: POSIXFile?
    private var buffer = ByteBuffer()
    private let hasher = SHA256Hasher()
    private var consumed: UInt64 = 0
    private var atEndOfFile = false
    private var entryCount: UInt64 = 0
    private var entryBytes: UInt64 = 0
    private var firstEntry: Position?
    private var lastEntry: Position?
    public private(set) var summary: BackupSummary?
    private static let readSize = 1 << 20

    /// Opens `path` and reads its header.
    public init(path: String) throws(BackupError) {
        self.path = path
        file = try POSIXFile.openForReading(path)
        header = Self.placeholderHeader
        header = try readHeader()
    }

    /// Reads a backup held in memory (an upload); `name` stands for the path in errors.
    public init(bytes: ByteBuffer, name: String) throws(BackupError) {
        self.path = name
        file = nil
        buffer = bytes
        atEndOfFile = true
        header = Self.placeholderHeader
        header = try readHeader()
    }

    private static let placeholderHeader = BackupHeader(
        clusterID: ClusterID(high: 0, low: 0),
        backupID: "",
        label: "",
        createdAtMilliseconds: 0,
        firstPosition: 0,
        lastPosition: 0
    )

    /// Makes at least `count` bytes readable, or fails naming what was expected there.
    private func require(_ count: Int, _ expecting: String) throws(BackupError) {
        while buffer.readableBytes < count {
            if atEndOfFile {
                throw .truncated(path: path, offset: consumed + UInt64(buffer.readableBytes), expecting: expecting)
            }
            guard let file = self.file else {
                atEndOfFile = true
                continue
            }
            buffer.discardReadBytes()
            let wanted = max(Self.readSize, count - buffer.readableBytes)
            let n = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) {
                (pointer) throws(BackupError) -> Int in
                try file.read(into: UnsafeMutableRawBufferPointer(rebasing: pointer[..<wanted]))
            }
            if n == 0 { atEndOfFile = true }
        }
    }

    /// Hashes and consumes `count` readable bytes.
    private func consume(_ count: Int) {
        buffer.withUnsafeReadableBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        buffer.moveReaderIndex(forwardBy: count)
        consumed += UInt64(count)
    }

    private func readString(_ field: String) throws(BackupError) -> String {
        try require(2, field)
        let length = Int(buffer.getInteger(at: buffer.readerIndex, as: UInt16.self)!)
        try require(2 + length, field)
        let bytes = buffer.getBytes(at: buffer.readerIndex + 2, length: length)!
        consume(2 + length)
        return String(decoding: bytes, as: UTF8.self)
    }

    private func readHeader() throws(BackupError) -> BackupHeader {
        do {
            try require(8, "the magic")
        } catch {
            throw .notABackup(path: path)
        }
        guard buffer.getBytes(at: buffer.readerIndex, length: 8)! == BackupFormat.magic else {
            throw .notABackup(path: path)
        }
        try require(28, "the header")
        let (version, flags, high, low) = buffer.getMultipleIntegers(
            at: buffer.readerIndex + 8,
            as: (UInt16, UInt16, UInt64, UInt64).self
        )!
        guard version == BackupFormat.version else { throw .unsupportedFormat(path: path, version: version) }
        guard flags == 0 else { throw .corrupt(path: path, offset: 10, reason: "unknown header flags \(flags)") }
        consume(28)
        let backupID = try readString("the backup id")
        let label = try readString("the label")
        try require(24, "the creation time and position range")
        let (created, first, last) = buffer.getMultipleIntegers(
            at: buffer.readerIndex,
            as: (UInt64, UInt64, UInt64).self
        )!
        guard first <= last else {
            throw .corrupt(
                path: path,
                offset: consumed + 8,
                reason: "first position \(first) is above last position \(last)"
            )
        }
        consume(24)
        return BackupHeader(
            clusterID: ClusterID(high: high, low: low),
            backupID: backupID,
            label: label,
            createdAtMilliseconds: created,
            firstPosition: first,
            lastPosition: last
        )
    }

    /// The next entry, or `nil` once the trailer has been read and verified.
    public func next() throws(BackupError) -> BackupEntry? {
        guard summary == nil else { return nil }
        try require(1, "an entry or the trailer")
        let recordStart = consumed
        switch buffer.getInteger(at: buffer.readerIndex, as: UInt8.self)! {
        case BackupFormat.entryTag:
            try require(BackupFormat.entryOverhead, "an entry header")
            let (_, position, length) = buffer.getMultipleIntegers(
                at: buffer.readerIndex,
                as: (UInt8, UInt64, UInt32).self
            )!
            guard length <= BackupFormat.maxEntrySize else {
                throw .corrupt(
                    path: path,
                    offset: recordStart,
                    reason: "entry length \(length) is above the 16 MiB limit"
                )
            }
            guard (header.firstPosition...header.lastPosition).contains(position) else {
                throw .corrupt(
                    path: path,
                    offset: recordStart,
                    reason: "entry position \(position) is outside \(header.firstPosition)...\(header.lastPosition)"
                )
            }
            if let lastEntry, position <= lastEntry {
                throw .corrupt(
                    path: path,
                    offset: recordStart,
                    reason: "entry position \(position) does not follow \(lastEntry)"
                )
            }
            try require(BackupFormat.entryOverhead + Int(length), "the bytes of the entry at position \(position)")
            let bytes = buffer.getSlice(at: buffer.readerIndex + BackupFormat.entryOverhead, length: Int(length))!
            consume(BackupFormat.entryOverhead + Int(length))
            entryCount += 1
            entryBytes += UInt64(length)
            if firstEntry == nil { firstEntry = position }
            lastEntry = position
            return BackupEntry(position: position, bytes: bytes)
        case BackupFormat.trailerTag:
            try require(17, "the trailer")
            let (_, count, bytes) = buffer.getMultipleIntegers(
                at: buffer.readerIndex,
                as: (UInt8, UInt64, UInt64).self
            )!
            consume(17)
            try require(32, "the SHA-256 digest")
            let recorded = buffer.readBytes(length: 32)!
            consumed += 32
            let computed = hasher.finish()
            guard recorded == computed else {
                throw .checksumMismatch(path: path, recorded: recorded.hexString, computed: computed.hexString)
            }
            guard count == entryCount, bytes == entryBytes else {
                throw .corrupt(
                    path: path,
                    offset: recordStart,
                    reason:
                        "the trailer records \(count) entries of \(bytes) bytes but the file holds \(entryCount) of \(entryBytes)"
                )
            }
            try? require(1, "")
            guard buffer.readableBytes == 0 else {
                throw .corrupt(path: path, offset: consumed, reason: "there are bytes after the trailer")
            }
            summary = BackupSummary(
                header: header,
                entryCount: entryCount,
                entryBytes: entryBytes,
                entryRange: firstEntry.flatMap { first in lastEntry.map { first...$0 } },
                sha256: computed,
                fileSize: consumed
            )
            return nil
        case let tag:
            throw .corrupt(path: path, offset: recordStart, reason: "unknown record tag 0x\(String(tag, radix: 16))")
        }
    }

    /// The number of bytes read so far (for progress reports).
    public var bytesRead: UInt64 { consumed }

    /// The file's size on disk.
    public func fileSize() throws(BackupError) -> UInt64 {
        guard let file else { return consumed + UInt64(buffer.readableBytes) }
        return try file.size()
    }

    /// Reads the whole file and checks it; returns what its trailer records.
    public static func verify(
        path: String,
        progress: (_ bytesRead: UInt64) -> Void = { _ in }
    ) throws(BackupError) -> BackupSummary {
        let reader = try BackupFileReader(path: path)
        var sinceReport: UInt64 = 0
        while try reader.next() != nil {
            if reader.consumed - sinceReport >= 64 << 20 {
                sinceReport = reader.consumed
                progress(reader.consumed)
            }
        }
        return reader.summary!
    }
}
