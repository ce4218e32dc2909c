import CoreMetrics

/// The metrics of a coordinator's backups (Aurora's `backup_success` and `backup_failed`, plus
/// what an alert on "no recent backup" needs).
struct BackupMetrics: Sendable {
    /// Backups (scheduled and on demand) that finished READY, and those that failed.
    let succeeded: Counter
    let failed: Counter
    /// READY backups in the backup directory.
    let saved: Gauge
    /// Age in seconds and file size in bytes of the newest READY backup (not set while there is none).
    let newestAge: Gauge
    let newestSize: Gauge

    init(factory: any MetricsFactory) {
        succeeded = Counter(label: "replog_coordinator_backups_succeeded", factory: factory)
        failed = Counter(label: "replog_coordinator_backups_failed", factory: factory)
        saved = Gauge(label: "replog_coordinator_backups_saved", factory: factory)
        newestAge = Gauge(label: "replog_coordinator_newest_backup_age_seconds", factory: factory)
        newestSize = Gauge(label: "replog_coordinator_newest_backup_size_bytes", factory: factory)
    }
}
