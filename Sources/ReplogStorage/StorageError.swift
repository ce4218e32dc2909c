public import ReplogModel

/// Why the store refused an operation. Every case says what happened and what the operator can do.
public enum StorageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Another process (or another open store in this process) holds the directory's lock file.
    case locked(directory: String, pid: Int32?)
    /// A system call failed.
    case io(operation: String, path: String, errno: Int32)
    /// The disk or the file-size limit is full; nothing of the failed write is considered durable.
    case diskFull(path: String, errno: Int32)
    /// The directory was written by a different on-disk format version.
    case unsupportedFormatVersion(path: String, found: UInt32, supported: UInt32)
    /// The metadata file is unreadable (bad magic, bad checksum, wrong size).
    case corruptMetadata(path: String, reason: String)
    /// Segment files exist but the metadata file does not.
    case missingMetadata(directory: String)
    /// There is no store at this path (and the operation does not create one).
    case noStore(path: String)
    /// The path exists and is not a directory.
    case notADirectory(path: String)
    /// Recovery found records that were once durable and are now damaged; the store refuses to open.
    case corruption([CorruptionReport])
    /// The record for this position was found damaged when the store was opened; it is not served.
    case corruptPosition(Position)
    /// A single record does not fit in one segment.
    case recordTooLarge(bytes: Int, limit: Int)
    /// The caller asked to persist something that cannot be stored.
    case invalidRequest(String)
    /// An fsync (or the wipe of a failed write) failed; what is on disk is unknown until the store is reopened.
    case failed(String)
    /// The store was closed.
    case closed

    public var description: String {
        switch self {
        case .locked(let directory, let pid):
            let holder = pid.map { "process \($0)" } ?? "another process"
            return "the store at \(directory) is in use by \(holder) (a running replica?); "
                + "stop that process or use another directory"
        case .io(let operation, let path, let code):
            return "\(operation) failed for \(path): \(errorText(code)) (errno \(code))"
        case .diskFull(let path, let code):
            return "no space left for \(path): \(errorText(code)) (errno \(code)); free disk space or raise the "
                + "file-size limit, then retry; data acknowledged before this error is intact"
        case .unsupportedFormatVersion(let path, let found, let supported):
            return "\(path) has storage format version \(found) but this replog reads version \(supported); "
                + "run a replog release that matches the store, or restore this replica from a backup"
        case .corruptMetadata(let path, let reason):
            return "the metadata file \(path) is damaged (\(reason)); the log segments were not touched: "
                + "restore the replica from a backup or re-create it and let it recover from its peers"
        case .missingMetadata(let directory):
            return "\(directory) holds log segments but no METADATA file; refusing to guess the replica's "
                + "promises: restore the replica from a backup or re-create it and let it recover"
        case .noStore(let path):
            return "there is no replog store at \(path); create one with `replog initialize --path \(path)` "
                + "or give the path of an existing store"
        case .notADirectory(let path):
            return "\(path) exists and is not a directory; give the path of a store directory"
        case .corruption(let reports):
            let lines = reports.map { "  " + $0.description }.joined(separator: "\n")
            return "the store holds damaged records that were durable; refusing to open it:\n\(lines)\n"
                + "inspect it with `replog read --path DIR`, then restore the replica from a backup or "
                + "re-create it and let it recover from its peers"
        case .corruptPosition(let position):
            return "position \(position) is damaged on this replica's disk and is not served; "
                + "recover it from another replica"
        case .recordTooLarge(let bytes, let limit):
            return "a record of \(bytes) bytes does not fit in a segment (at most \(limit) bytes); "
                + "write smaller entries or configure larger segments"
        case .invalidRequest(let reason):
            return "invalid storage request: \(reason)"
        case .failed(let reason):
            return "the store stopped writing (\(reason)); reopen it (restart the replica) to find what is durable"
        case .closed:
            return "the store is closed"
        }
    }
}

/// One damaged region found by recovery.
public struct CorruptionReport: Sendable, Hashable, CustomStringConvertible {
    /// The segment file holding the damage.
    public var segment: String
    /// Byte offset of the first damaged byte.
    public var offset: Int
    /// Number of bytes skipped.
    public var length: Int
    /// The position the damaged record claims to hold, when its header was readable.
    public var suspectedPosition: Position?

    public var description: String {
        let position = suspectedPosition.map { ", probably position \($0)" } ?? ""
        return "\(segment): \(length) damaged bytes at offset \(offset)\(position)"
    }
}
