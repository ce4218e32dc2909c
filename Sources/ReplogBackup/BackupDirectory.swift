/// The backups stored in one directory (`--backup-dir`).
public struct BackupDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The file of backup `id`.
    public func file(for id: String) throws(BackupError) -> String {
        try BackupID.validate(id)
        return path + "/" + id + BackupFormat.fileExtension
    }

    /// The ids of the finished backups, sorted; temporary files of unfinished ones are skipped.
    public func ids() throws(BackupError) -> [String] {
        try POSIXFile.list(path)
            .filter { $0.hasSuffix(BackupFormat.fileExtension) && !$0.hasPrefix(BackupFormat.temporaryPrefix) }
            .map { String($0.dropLast(BackupFormat.fileExtension.count)) }
            .sorted()
    }

    /// Deletes backup `id` durably.
    public func delete(_ id: String) throws(BackupError) {
        let file = try file(for: id)
        guard POSIXFile.exists(file) else { throw .notFound(path: file) }
        try POSIXFile.remove(file)
        try POSIXFile.syncDirectory(path)
    }

    /// Applies `policy`; returns the ids it deleted.
    @discardableResult
    public func applyRetention(_ policy: RetentionPolicy) throws(BackupError) -> [String] {
        let expired = policy.expired(among: try ids())
        for id in expired { try delete(id) }
        return expired
    }

    /// Deletes temporary files left by a writer that crashed; returns their names.
    @discardableResult
    public func removeLeftovers() throws(BackupError) -> [String] {
        let leftovers = try POSIXFile.list(path).filter { $0.hasPrefix(BackupFormat.temporaryPrefix) }
        for name in leftovers { try POSIXFile.remove(path + "/" + name) }
        if !leftovers.isEmpty { try POSIXFile.syncDirectory(path) }
        return leftovers
    }
}
