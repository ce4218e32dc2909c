/// A system call the store is about to make to change its files, as a ``StorageFailpoint`` sees it.
public enum StorageSystemCall: Sendable, Hashable, CustomStringConvertible {
    /// Writing `bytes` bytes at `offset` of `path` (records, zeros, segment headers, metadata).
    case write(path: String, offset: Int, bytes: Int)
    /// fdatasync or fsync of a file or directory.
    case sync(path: String)
    /// Reserving the disk space of a new segment.
    case allocate(path: String, bytes: Int)
    /// Renaming a finished temporary file to its final name.
    case rename(to: String)

    /// The file the call is about.
    public var path: String {
        switch self {
        case .write(let path, _, _), .sync(let path), .allocate(let path, _), .rename(let path): path
        }
    }

    public var description: String {
        switch self {
        case .write(let path, let offset, let bytes): "write \(bytes) bytes at \(offset) of \(path)"
        case .sync(let path): "sync \(path)"
        case .allocate(let path, let bytes): "allocate \(bytes) bytes for \(path)"
        case .rename(let path): "rename to \(path)"
        }
    }
}

/// How an injected failure behaves: the call fails with `errno` (for example `ENOSPC` or `EIO`);
/// a write first writes `written` of its bytes for real, as a write that runs out of space halfway
/// does.
public struct StorageFault: Sendable, Hashable {
    public var errno: Int32
    public var written: Int

    public init(errno: Int32, written: Int = 0) {
        self.errno = errno
        self.written = written
    }
}

/// A failpoint, as in etcd's robustness tests: asked before every system call that changes the
/// store's files, and a fault it returns makes that call fail the way a full or failing disk
/// makes it fail. The real POSIX calls run whenever it returns nil.
///
/// Production stores have none. Tests use it for what a real file system cannot be made to do on
/// demand, such as an fdatasync that returns EIO, or running out of space in the middle of a
/// record inside a preallocated segment.
public typealias StorageFailpoint = @Sendable (StorageSystemCall) -> StorageFault?
