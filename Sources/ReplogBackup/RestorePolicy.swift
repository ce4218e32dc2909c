public import ReplogModel

/// The safety checks every restore makes before it writes anything, as a pure decision.
///
/// The seeds' lessons: restoring another cluster's data, or a backup old enough that work has
/// moved on since, does damage that cannot be undone; both need the operator to say so.
public struct RestorePolicy: Sendable, Hashable {
    /// Backups older than this need ``acceptStale``. Default: 6 hours.
    public var staleAfterSeconds: UInt64 = 6 * 3600
    public var acceptStale = false
    public var allowForeignCluster = false

    public init(staleAfterSeconds: UInt64 = 6 * 3600, acceptStale: Bool = false, allowForeignCluster: Bool = false) {
        self.staleAfterSeconds = staleAfterSeconds
        self.acceptStale = acceptStale
        self.allowForeignCluster = allowForeignCluster
    }

    /// Throws the first reason `header` may not be restored into `cluster` at `nowMilliseconds`.
    public func check(_ header: BackupHeader, into cluster: ClusterID, nowMilliseconds: UInt64) throws(BackupError) {
        if header.clusterID != cluster && !allowForeignCluster {
            throw .foreignCluster(backup: header.clusterID, cluster: cluster)
        }
        let age =
            nowMilliseconds > header.createdAtMilliseconds ? (nowMilliseconds - header.createdAtMilliseconds) / 1000 : 0
        if age > staleAfterSeconds && !acceptStale {
            throw .stale(ageSeconds: age, limitSeconds: staleAfterSeconds)
        }
    }
}

/// Which scheduled backups to delete so that at most `maxSaved` remain (Aurora's
/// `-max_saved_backups`, default 48). Labelled backups are the operator's and are never deleted
/// by retention.
public struct RetentionPolicy: Sendable, Hashable {
    public var maxSaved: Int

    public init(maxSaved: Int = 48) {
        self.maxSaved = maxSaved
    }

    /// The ids among `ids` to delete, oldest first. Scheduled ids sort by their time stamp.
    public func expired(among ids: [String]) -> [String] {
        let scheduled = ids.filter(BackupID.isScheduled).sorted()
        guard scheduled.count > maxSaved else { return [] }
        return Array(scheduled.prefix(scheduled.count - maxSaved))
    }
}
