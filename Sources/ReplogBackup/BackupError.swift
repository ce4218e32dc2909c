public import ReplogModel

/// Everything that can go wrong with a backup file or a backup decision, each with what to do.
public enum BackupError: Error, Hashable, Sendable, CustomStringConvertible {
    case invalidLabel(String, reason: String)
    case invalidID(String)
    case notABackup(path: String)
    case unsupportedFormat(path: String, version: UInt16)
    case truncated(path: String, offset: UInt64, expecting: String)
    case corrupt(path: String, offset: UInt64, reason: String)
    case checksumMismatch(path: String, recorded: String, computed: String)
    case io(path: String, operation: String, message: String)
    case alreadyExists(path: String)
    case notFound(path: String)
    case foreignCluster(backup: ClusterID, cluster: ClusterID)
    case stale(ageSeconds: UInt64, limitSeconds: UInt64)

    public var description: String {
        switch self {
        case .invalidLabel(let label, let reason):
            return "invalid backup label '\(label)': \(reason)"
        case .invalidID(let id):
            return "invalid backup id '\(id)': ids use only A-Z, a-z, 0-9, '_', '.' and '-', and do not start with '.'"
        case .notABackup(let path):
            return "\(path) is not a replog backup (it does not start with the magic 'RPLGBKUP')"
        case .unsupportedFormat(let path, let version):
            return "\(path) uses backup format version \(version), which this replog does not read:"
                + " use a newer replog"
        case .truncated(let path, let offset, let expecting):
            return "\(path) is truncated: it ends at byte \(offset) where \(expecting) should be;"
                + " the copy is incomplete, fetch the backup again"
        case .corrupt(let path, let offset, let reason):
            return "\(path) is corrupt at byte \(offset): \(reason); do not restore from it"
        case .checksumMismatch(let path, let recorded, let computed):
            return "\(path) failed its SHA-256 check (recorded \(recorded), computed \(computed)):"
                + " the file was damaged after it was written; do not restore from it"
        case .io(let path, let operation, let message):
            return "cannot \(operation) \(path): \(message)"
        case .alreadyExists(let path):
            return "\(path) already exists; refusing to overwrite a backup"
        case .notFound(let path):
            return "no backup at \(path)"
        case .foreignCluster(let backup, let cluster):
            return "the backup belongs to cluster \(backup) but this cluster is \(cluster);"
                + " pass --allow-foreign-cluster if you really mean to restore another cluster's data"
        case .stale(let age, let limit):
            return
                "the backup is \(BackupError.duration(age)) old, older than the \(BackupError.duration(limit)) limit:"
                + " restoring it rewinds every change made since; pass --accept-stale if that is what you want"
        }
    }

    /// A short human form of a duration in seconds: "2d 3h", "5h 12m", "4m 2s", "9s".
    public static func duration(_ seconds: UInt64) -> String {
        if seconds >= 86_400 { return "\(seconds / 86_400)d \(seconds % 86_400 / 3600)h" }
        if seconds >= 3600 { return "\(seconds / 3600)h \(seconds % 3600 / 60)m" }
        if seconds >= 60 { return "\(seconds / 60)m \(seconds % 60)s" }
        return "\(seconds)s"
    }
}
