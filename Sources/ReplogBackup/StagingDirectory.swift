public import NIOCore
public import ReplogModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The persistent part of a staged recovery: which backup is staged, what was deleted from it,
/// and whether a commit has started (and the log end it holds readers at).
public struct StageRecord: Sendable, Hashable {
    public var backupID: String
    /// The token of the stage request that made it (a retry with it is not "another" stage).
    public var token: UInt64
    /// Set once a commit has started writing: the log's end before the commit.
    public var readCap: Position?
    /// Positions deleted from the staged copy, in increasing order.
    public var deleted: [Position]

    public init(backupID: String, token: UInt64, readCap: Position? = nil, deleted: [Position] = []) {
        self.backupID = backupID
        self.token = token
        self.readCap = readCap
        self.deleted = deleted
    }

    static let magic = "replog-stage 1"

    /// One `name value` pair per line after a version line; ids never hold spaces.
    public var text: String {
        var lines = [Self.magic, "backup \(backupID)", "token \(token)"]
        if let readCap { lines.append("read-cap \(readCap)") }
        for position in deleted { lines.append("deleted \(position)") }
        return lines.joined(separator: "\n") + "\n"
    }

    public init(text: String, path: String) throws(BackupError) {
        var lines = text.split(separator: "\n").map(String.init)
        guard lines.first == Self.magic else {
            throw .corrupt(path: path, offset: 0, reason: "not a stage record (it does not start with '\(Self.magic)')")
        }
        lines.removeFirst()
        var backupID: String?
        var token: UInt64?
        var readCap: Position?
        var deleted: [Position] = []
        for line in lines {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw .corrupt(path: path, offset: 0, reason: "bad line '\(line)'") }
            switch parts[0] {
            case "backup": backupID = parts[1]
            case "token": token = UInt64(parts[1])
            case "read-cap": readCap = UInt64(parts[1])
            case "deleted":
                guard let position = UInt64(parts[1]) else {
                    throw .corrupt(path: path, offset: 0, reason: "bad line '\(line)'")
                }
                deleted.append(position)
            default: throw .corrupt(path: path, offset: 0, reason: "unknown line '\(line)'")
            }
        }
        guard let backupID, let token else {
            throw .corrupt(path: path, offset: 0, reason: "the backup id or token is missing")
        }
        self.init(backupID: backupID, token: token, readCap: readCap, deleted: deleted)
    }
}

/// What the last finished commit did; kept after the stage is unloaded so that readers of older
/// positions keep being told where to restart.
public struct CommitRecord: Sendable, Hashable {
    public var backupID: String
    /// The first position of the committed entries; the log begins there.
    public var restartFrom: Position
    /// The last position of the committed entries (`restartFrom - 1` when there were none).
    public var last: Position

    public init(backupID: String, restartFrom: Position, last: Position) {
        self.backupID = backupID
        self.restartFrom = restartFrom
        self.last = last
    }

    static let magic = "replog-commit 1"

    public var text: String {
        [Self.magic, "backup \(backupID)", "restart-from \(restartFrom)", "last \(last)"].joined(separator: "\n")
            + "\n"
    }

    public init(text: String, path: String) throws(BackupError) {
        let lines = text.split(separator: "\n").map(String.init)
        var values: [String: String] = [:]
        for line in lines.dropFirst() {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        guard lines.first == Self.magic, let backupID = values["backup"],
            let restartFrom = values["restart-from"].flatMap(UInt64.init),
            let last = values["last"].flatMap(UInt64.init)
        else {
            throw .corrupt(path: path, offset: 0, reason: "not a commit record")
        }
        self.init(backupID: backupID, restartFrom: restartFrom, last: last)
    }
}

/// The files of a staged recovery in `<backup-dir>/staging/`, so that a stage survives a
/// coordinator restart:
///
/// - `staged.backup`: the staged backup file, unchanged (a hard link to the backup in the backup
///   directory when possible, else a copy), so it can still be verified;
/// - `stage`: the ``StageRecord``. A stage exists exactly when this file does: it is written
///   last when staging and removed first when unloading, each time atomically (temporary file,
///   fsync, rename, fsync of the directory);
/// - `last-commit`: the ``CommitRecord`` of the last finished commit;
/// - `.upload-<id>`: a backup file being uploaded.
public struct StagingDirectory: Sendable {
    public let path: String

    /// The staging directory of `backupDirectory`, created when missing.
    public init(backupDirectory: String) throws(BackupError) {
        path = backupDirectory + "/staging"
        if !POSIXFile.exists(path) {
            guard mkdir(path, 0o700) == 0 || errno == EEXIST else { throw POSIXFile.error(path, "create directory") }
            try POSIXFile.syncDirectory(backupDirectory)
        }
    }

    public var stagedBackupPath: String { path + "/staged.backup" }
    var recordPath: String { path + "/stage" }
    var commitPath: String { path + "/last-commit" }

    public func uploadPath(_ id: UInt64) -> String { path + "/.upload-\(id)" }

    /// Makes `source` (a verified backup file) the staged backup, replacing a leftover one.
    public func adopt(_ source: String) throws(BackupError) {
        let target = stagedBackupPath
        try POSIXFile.remove(target)
        if source.hasPrefix(path + "/") {
            try POSIXFile.rename(source, to: target)
        } else if link(source, target) != 0 {
            // Another file system (or one without hard links): copy it.
            try POSIXFile.copy(source, to: target)
        }
        try POSIXFile.syncDirectory(path)
    }

    public func writeRecord(_ record: StageRecord) throws(BackupError) {
        try writeAtomically(record.text, to: recordPath)
    }

    /// The stage record, or nil when nothing is staged.
    public func readRecord() throws(BackupError) -> StageRecord? {
        guard let text = try readText(recordPath) else { return nil }
        return try StageRecord(text: text, path: recordPath)
    }

    public func writeCommit(_ record: CommitRecord) throws(BackupError) {
        try writeAtomically(record.text, to: commitPath)
    }

    public func readCommit() throws(BackupError) -> CommitRecord? {
        guard let text = try readText(commitPath) else { return nil }
        return try CommitRecord(text: text, path: commitPath)
    }

    /// Removes the stage: its record first (from then on nothing is staged), then its files and
    /// any upload.
    public func removeStage() throws(BackupError) {
        try POSIXFile.remove(recordPath)
        try POSIXFile.syncDirectory(path)
        try removeLeftovers()
    }

    /// Removes files that belong to no stage: everything but the record files when no record
    /// exists, else uploads only (an upload never outlives a restart).
    public func removeLeftovers() throws(BackupError) {
        let staged = POSIXFile.exists(recordPath)
        for name in try POSIXFile.list(path) {
            let isUpload = name.hasPrefix(".upload-")
            if isUpload || (!staged && name == "staged.backup") || name.hasSuffix(".tmp") {
                try POSIXFile.remove(path + "/" + name)
            }
        }
    }

    private func writeAtomically(_ text: String, to target: String) throws(BackupError) {
        let temporary = target + ".tmp"
        try POSIXFile.remove(temporary)
        let file = try POSIXFile.createExclusive(temporary)
        try file.writeAll(Array(text.utf8))
        try file.sync()
        try POSIXFile.rename(temporary, to: target)
        try POSIXFile.syncDirectory(path)
    }

    private func readText(_ file: String) throws(BackupError) -> String? {
        guard POSIXFile.exists(file) else { return nil }
        let handle = try POSIXFile.openForReading(file)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = try handle.read(into: &chunk)
            if count == 0 { break }
            bytes += chunk[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A backup file arriving in chunks: on disk under the staging directory, or in memory when the
/// coordinator has no backup directory.
public final class BackupUpload {
    public let id: UInt64
    public private(set) var received: UInt64 = 0
    public private(set) var complete = false
    /// Where the file is written, or nil for an upload held in memory.
    public let path: String?
    private var file: POSIXFile?
    private var memory = ByteBuffer()

    /// Starts upload `id`, to `path` (replacing a leftover file) or in memory when `path` is nil.
    public init(id: UInt64, path: String?) throws(BackupError) {
        self.id = id
        self.path = path
        if let path {
            try POSIXFile.remove(path)
            file = try POSIXFile.createExclusive(path)
        }
    }

    /// Adds `chunk` at `offset`. A chunk that ends at or before what was received is a retry and
    /// changes nothing; a gap, or an overlap that goes further, is refused.
    public func add(_ chunk: ByteBuffer, at offset: UInt64, last: Bool) throws(UploadError) {
        let end = offset + UInt64(chunk.readableBytes)
        if end <= received && (!last || complete) { return }
        guard offset == received else { throw .outOfOrder(expected: received, got: offset) }
        guard !complete else { throw .alreadyComplete }
        if let file {
            do {
                try chunk.withUnsafeReadableBytes { (bytes) throws(BackupError) in try file.writeAll(bytes) }
                if last { try file.sync() }
            } catch {
                throw .io("\(error)")
            }
        } else {
            memory.writeImmutableBuffer(chunk)
        }
        received = end
        if last {
            complete = true
            file = nil
        }
    }

    /// Where the uploaded backup is, to stage it.
    public var source: StageSource {
        if let path { return .file(path) }
        return .memory(memory, name: "the uploaded backup")
    }

    /// Deletes the upload's file.
    public func discard() {
        file = nil
        if let path { try? POSIXFile.remove(path) }
        memory = ByteBuffer()
    }
}

/// Why an upload chunk was refused.
public enum UploadError: Error, Sendable, Hashable, CustomStringConvertible {
    case outOfOrder(expected: UInt64, got: UInt64)
    case alreadyComplete
    case io(String)

    public var description: String {
        switch self {
        case .outOfOrder(let expected, let got):
            return "upload chunk at byte \(got) does not follow the \(expected) bytes received; restart the upload"
        case .alreadyComplete: return "the upload is already complete"
        case .io(let message): return "cannot store the upload: \(message)"
        }
    }
}

extension POSIXFile {
    /// Reads up to `chunk.count` bytes into `chunk`; returns 0 at end of file.
    func read(into chunk: inout [UInt8]) throws(BackupError) -> Int {
        let result = chunk.withUnsafeMutableBytes { pointer in
            Result { () throws(BackupError) -> Int in try read(into: pointer) }
        }
        return try result.get()
    }

    /// Copies `source` to the new file `target` and makes it durable.
    static func copy(_ source: String, to target: String) throws(BackupError) {
        let input = try openForReading(source)
        let output = try createExclusive(target)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = try input.read(into: &chunk)
            if count == 0 { break }
            try output.writeAll(Array(chunk[0..<count]))
        }
        try output.sync()
    }
}
