import CoreMetrics

/// The metrics a store reports, all labelled `replog_storage_*`.
struct StoreMetrics: Sendable {
    /// Records made durable.
    let records: Counter
    /// Bytes of records made durable.
    let bytes: Counter
    /// fdatasync calls on segment files.
    let syncs: Counter
    /// Duration of each fdatasync.
    let syncDuration: CoreMetrics.Timer
    let segmentsCreated: Counter
    let segmentsDeleted: Counter
    /// Torn tails cut when the store was opened.
    let tornTails: Counter
    /// Damaged regions found when the store was opened (the replica must not vote blindly).
    let damagedRegions: Gauge
    /// Writes that failed (disk full, I/O errors).
    let writeFailures: Counter

    init(factory: any MetricsFactory) {
        records = Counter(label: "replog_storage_records", factory: factory)
        bytes = Counter(label: "replog_storage_bytes", factory: factory)
        syncs = Counter(label: "replog_storage_syncs", factory: factory)
        syncDuration = CoreMetrics.Timer(label: "replog_storage_sync_duration", factory: factory)
        segmentsCreated = Counter(label: "replog_storage_segments_created", factory: factory)
        segmentsDeleted = Counter(label: "replog_storage_segments_deleted", factory: factory)
        tornTails = Counter(label: "replog_storage_torn_tails", factory: factory)
        damagedRegions = Gauge(label: "replog_storage_damaged_regions", factory: factory)
        writeFailures = Counter(label: "replog_storage_write_failures", factory: factory)
    }
}
