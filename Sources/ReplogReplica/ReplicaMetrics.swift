import CoreMetrics
import ReplogModel

/// The metrics a replica reports, all labelled `replog_replica_*` (the store adds
/// `replog_storage_*`).
struct ReplicaMetrics: Sendable {
    /// 0 EMPTY, 1 STARTING, 2 RECOVERING, 3 VOTING.
    let status: Gauge
    /// 1 once the replica is VOTING (Mesos's `log/recovered`).
    let recovered: Gauge
    let statusChanges: Counter
    /// The log's first and last positions on this replica.
    let begin: Gauge
    let end: Gauge
    /// Requests from peers answered, and diagnoses logged while recovery could not finish.
    let requests: Counter
    let diagnoses: Counter
    /// Recoveries this process ran (started while not VOTING) and finished (reached VOTING).
    let recoveriesStarted: Counter
    let recoveriesFinished: Counter
    /// Learned positions fetched from peers by catch-up.
    let catchupPositions: Counter
    /// How far this replica's end is behind the highest position it heard of (peers' ends,
    /// positions chosen): the catch-up still to do.
    let lag: Gauge

    init(factory: any MetricsFactory) {
        status = Gauge(label: "replog_replica_status", factory: factory)
        recovered = Gauge(label: "replog_replica_recovered", factory: factory)
        statusChanges = Counter(label: "replog_replica_status_changes", factory: factory)
        begin = Gauge(label: "replog_replica_begin", factory: factory)
        end = Gauge(label: "replog_replica_end", factory: factory)
        requests = Counter(label: "replog_replica_requests", factory: factory)
        diagnoses = Counter(label: "replog_replica_diagnoses", factory: factory)
        recoveriesStarted = Counter(label: "replog_replica_recoveries_started", factory: factory)
        recoveriesFinished = Counter(label: "replog_replica_recoveries_finished", factory: factory)
        catchupPositions = Counter(label: "replog_replica_catchup_positions", factory: factory)
        lag = Gauge(label: "replog_replica_lag", factory: factory)
    }

    func record(status value: ReplicaStatus) {
        status.record(Int(value.rawValue))
        recovered.record(value == .voting ? 1 : 0)
    }
}
