public import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// What a finished backup's header and trailer record, read without hashing the whole file.
///
/// This is what listings show; it trusts the trailer. ``BackupFileReader/verify(path:progress:)``
/// is the full check, and every restore and every fetched copy goes through it.
public struct BackupDescription: Sendable, Hashable {
    public var header: BackupHeader
    public var entryCount: UInt64
    public var entryBytes: UInt64
    public var sha256: [UInt8]
    public var fileSize: UInt64

    public init(header: BackupHeader, entryCount: UInt64, entryBytes: UInt64, sha256: [UInt8], fileSize: UInt64) {
        self.header = header
        self.entryCount = entryCount
        self.entryBytes = entryBytes
        self.sha256 = sha256
        self.fileSize = fileSize
    }

    public init(_ summary: BackupSummary) {
        self.init(
            header: summary.header,
            entryCount: summary.entryCount,
            entryBytes: summary.entryBytes,
            sha256: summary.sha256,
            fileSize: summary.fileSize
        )
    }
}

extension BackupDirectory {
    /// Creates the directory (mode 0700) if it does not exist, and checks that backups can be
    /// written there, so that a wrong `--backup-dir` fails at start-up rather than at the first backup.
    public func prepare() throws(BackupError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST { throw POSIXFile.error(path, "create directory") }
        var info = stat()
        guard stat(path, &info) == 0 else { throw POSIXFile.error(path, "stat") }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw .io(path: path, operation: "use", message: "it is not a directory")
        }
        guard access(path, W_OK | X_OK) == 0 else { throw POSIXFile.error(path, "write backups into") }
    }

    /// Reads backup `id`'s header and trailer.
    public func describe(_ id: String) throws(BackupError) -> BackupDescription {
        let path = try file(for: id)
        let header = try BackupFileReader(path: path).header
        var encodedHeader = ByteBuffer()
        header.encode(into: &encodedHeader)
        let file = try POSIXFile.openForReading(path)
        let size = try file.size()
        let headerSize = UInt64(encodedHeader.readableBytes)
        let trailerSize = UInt64(BackupFormat.trailerSize)
        guard size >= headerSize + trailerSize else {
            throw .truncated(path: path, offset: size, expecting: "the trailer")
        }
        var buffer = ByteBuffer()
        let count = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: BackupFormat.trailerSize) {
            (pointer) throws(BackupError) -> Int in
            try file.read(
                into: UnsafeMutableRawBufferPointer(rebasing: pointer[..<BackupFormat.trailerSize]),
                at: size - trailerSize
            )
        }
        guard count == BackupFormat.trailerSize,
            let (tag, entryCount, entryBytes) = buffer.readMultipleIntegers(as: (UInt8, UInt64, UInt64).self),
            tag == BackupFormat.trailerTag
        else {
            throw .corrupt(
                path: path,
                offset: size - trailerSize,
                reason: "the file does not end with a trailer; it is incomplete or damaged"
            )
        }
        return BackupDescription(
            header: header,
            entryCount: entryCount,
            entryBytes: entryBytes,
            sha256: buffer.readBytes(length: 32)!,
            fileSize: size
        )
    }

    /// Up to `maxBytes` bytes of backup `id`'s file from `offset`, and the file's size.
    public func read(_ id: String, offset: UInt64, maxBytes: Int) throws(BackupError) -> (
        bytes: ByteBuffer, size: UInt64
    ) {
        let path = try file(for: id)
        let file = try POSIXFile.openForReading(path)
        let size = try file.size()
        guard offset <= size else {
            throw .io(path: path, operation: "read", message: "offset \(offset) is beyond the file's \(size) bytes")
        }
        let wanted = Int(min(UInt64(max(0, maxBytes)), size - offset))
        var buffer = ByteBuffer()
        if wanted > 0 {
            _ = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) {
                (pointer) throws(BackupError) -> Int in
                try file.read(into: UnsafeMutableRawBufferPointer(rebasing: pointer[..<wanted]), at: offset)
            }
        }
        return (buffer, size)
    }

    /// ``read(_:offset:maxBytes:)`` on NIO's blocking-I/O thread pool.
    public func readOffThePool(_ id: String, offset: UInt64, maxBytes: Int) async throws -> (
        bytes: ByteBuffer, size: UInt64
    ) {
        let directory = self
        return try await NIOThreadPool.singleton.runIfActive {
            try directory.read(id, offset: offset, maxBytes: maxBytes)
        }
    }
}
