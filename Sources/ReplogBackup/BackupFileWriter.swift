public import NIOCore
import NIOPosix
public import ReplogModel

/// Writes one backup file: to a hidden temporary name first, then fsync, rename and fsync of the
/// directory, so that a file with the final name is always complete.
///
/// Entries must come in increasing position order within the header's range; the writer checks
/// this so that a bug upstream cannot produce a backup that would restore wrongly.
public final class BackupFileWriter {
    public let header: BackupHeader
    public let finalPath: String
    let temporaryPath: String
    let directory: String
    private var file: POSIXFile?
    private let hasher = SHA256Hasher()
    private var pending = ByteBuffer()
    private var entryCount: UInt64 = 0
    private var entryBytes: UInt64 = 0
    private var firstEntry: Position?
    private var lastEntry: Position?
    private var written: UInt64 = 0
    private static let flushThreshold = 1 << 20

    /// Starts `<directory>/<backupID>.backup`; fails if a backup of that id exists.
    public init(directory: String, header: BackupHeader) throws(BackupError) {
        try BackupID.validate(header.backupID)
        self.header = header
        self.directory = directory
        finalPath = directory + "/" + header.backupID + BackupFormat.fileExtension
        temporaryPath = directory + "/" + BackupFormat.temporaryPrefix + header.backupID + BackupFormat.fileExtension
        guard !POSIXFile.exists(finalPath) else { throw .alreadyExists(path: finalPath) }
        file = try POSIXFile.createExclusive(temporaryPath)
        header.encode(into: &pending)
    }

    deinit {
        if file != nil { abandon() }
    }

    /// Adds the entry at `position`.
    public func append(position: Position, bytes: ByteBuffer) throws(BackupError) {
        guard file != nil else { throw .io(path: temporaryPath, operation: "append to", message: "writer is closed") }
        guard (header.firstPosition...header.lastPosition).contains(position) else {
            throw .corrupt(
                path: temporaryPath,
                offset: written + UInt64(pending.readableBytes),
                reason: "entry position \(position) is outside the backup's range"
                    + " \(header.firstPosition)...\(header.lastPosition)"
            )
        }
        if let lastEntry, position <= lastEntry {
            throw .corrupt(
                path: temporaryPath,
                offset: written + UInt64(pending.readableBytes),
                reason: "entry position \(position) does not follow \(lastEntry)"
            )
        }
        guard bytes.readableBytes <= BackupFormat.maxEntrySize else {
            throw .corrupt(
                path: temporaryPath,
                offset: written + UInt64(pending.readableBytes),
                reason:
                    "entry at \(position) is \(bytes.readableBytes) bytes, above the \(BackupFormat.maxEntrySize) limit"
            )
        }
        pending.writeMultipleIntegers(BackupFormat.entryTag, position, UInt32(bytes.readableBytes))
        pending.writeImmutableBuffer(bytes)
        entryCount += 1
        entryBytes += UInt64(bytes.readableBytes)
        if firstEntry == nil { firstEntry = position }
        lastEntry = position
        if pending.readableBytes >= Self.flushThreshold { try flush() }
    }

    private func flush() throws(BackupError) {
        guard let file else { return }
        try pending.withUnsafeReadableBytes { (bytes) throws(BackupError) in
            hasher.update(bytes)
            try file.writeAll(bytes)
        }
        written += UInt64(pending.readableBytes)
        pending.clear()
    }

    /// Writes the trailer, makes the file durable and gives it its final name.
    @discardableResult
    public func finish() throws(BackupError) -> BackupSummary {
        pending.writeMultipleIntegers(BackupFormat.trailerTag, entryCount, entryBytes)
        try flush()
        let digest = hasher.finish()
        guard let file else {
            throw .io(path: temporaryPath, operation: "finish", message: "writer is closed")
        }
        try file.writeAll(digest)
        try file.sync()
        let size = written + UInt64(digest.count)
        self.file = nil
        try POSIXFile.rename(temporaryPath, to: finalPath)
        try POSIXFile.syncDirectory(directory)
        return BackupSummary(
            header: header,
            entryCount: entryCount,
            entryBytes: entryBytes,
            entryRange: firstEntry.flatMap { first in lastEntry.map { first...$0 } },
            sha256: digest,
            fileSize: size
        )
    }

    /// How far the writer has got, for progress reports while `next` is the next position to read.
    public func progress(next: Position) -> BackupProgress {
        BackupProgress(
            next: next,
            last: header.lastPosition,
            entryCount: entryCount,
            entryBytes: entryBytes,
            fileBytes: written + UInt64(pending.readableBytes)
        )
    }

    /// ``finish()`` on NIO's blocking-I/O thread pool: the fsync of a large file takes seconds,
    /// which must not hold one of the few threads of Swift's concurrency pool.
    public func finishOffThePool() async throws -> BackupSummary {
        let writer = UncheckedTransfer(self)
        return try await NIOThreadPool.singleton.runIfActive { try writer.value.finish() }
    }

    /// Gives up: closes and deletes the temporary file. Nothing with the final name is created.
    public func abandon() {
        file = nil
        try? POSIXFile.remove(temporaryPath)
    }
}

/// Hands a value that is used by one task at a time to another thread.
struct UncheckedTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
