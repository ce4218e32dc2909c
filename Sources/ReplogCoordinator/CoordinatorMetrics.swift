import CoreMetrics

/// The metrics a coordinator reports, all labelled `replog_coordinator_*`.
struct CoordinatorMetrics: Sendable {
    /// 1 while this coordinator leads, else 0.
    let leading: Gauge
    /// Times this coordinator started or stopped leading.
    let leaderChanges: Counter
    /// Entries acknowledged to clients, and their bytes.
    let appends: Counter
    let appendBytes: Counter
    /// Time from a client's append arriving to its acknowledgement.
    let appendDuration: CoreMetrics.Timer
    /// Client retries answered from the de-duplication table instead of appending again.
    let deduplicated: Counter
    /// Client operations that failed (not leader, timeouts, overload...).
    let failures: Counter
    /// The highest position this coordinator knows to be learned.
    let learnedPosition: Gauge
    /// Elections this coordinator started (after finding no live leader).
    let elections: Counter
    /// The id of the coordinator this one knows to lead (itself included), 0 when none is known.
    let knownLeader: Gauge
    /// Times the known leader changed (to another coordinator, or to none known).
    let observedLeaderChanges: Counter

    init(factory: any MetricsFactory) {
        leading = Gauge(label: "replog_coordinator_leading", factory: factory)
        leaderChanges = Counter(label: "replog_coordinator_leader_changes", factory: factory)
        appends = Counter(label: "replog_coordinator_appends", factory: factory)
        appendBytes = Counter(label: "replog_coordinator_append_bytes", factory: factory)
        appendDuration = CoreMetrics.Timer(label: "replog_coordinator_append_duration", factory: factory)
        deduplicated = Counter(label: "replog_coordinator_deduplicated_appends", factory: factory)
        failures = Counter(label: "replog_coordinator_failed_operations", factory: factory)
        learnedPosition = Gauge(label: "replog_coordinator_learned_position", factory: factory)
        elections = Counter(label: "replog_coordinator_elections", factory: factory)
        knownLeader = Gauge(label: "replog_coordinator_known_leader", factory: factory)
        observedLeaderChanges = Counter(label: "replog_coordinator_observed_leader_changes", factory: factory)
    }
}
