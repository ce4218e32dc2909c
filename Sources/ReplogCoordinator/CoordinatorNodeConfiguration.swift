public import ReplogConsensus
public import ReplogModel
public import ReplogNet

/// Everything a coordinator process needs.
public struct CoordinatorNodeConfiguration: Sendable {
    /// This coordinator's id, 1 to 255, distinct from every replica's and coordinator's.
    public var id: NodeID
    /// Where clients reach this coordinator (reported in status and leader answers).
    public var advertisedAddress: String
    /// The cluster's replicas and where they listen.
    public var replicas: [NodeID: Endpoint]
    public var quorum: Int
    public var clusterID: ClusterID
    public var security: TransportSecurity
    /// Appends remembered for de-duplication of client retries (oldest forgotten first).
    public var rememberedAppends = 100_000
    /// How a recovery commit batches, retries and waits.
    public var recoveryCommit = RecoveryCommit.Configuration()
    public var connection = ConnectionOptions()
    /// The cluster's other coordinators and where clients reach them: one of all of them leads,
    /// the others redirect clients to it and take over when it dies.
    public var coordinators: [NodeID: Endpoint] = [:]
    /// How this coordinator connects to the other coordinators (it dials them as a coordinator and
    /// expects coordinators to answer); by default the same as ``security``.
    public var coordinatorSecurity: TransportSecurity
    /// How often the other coordinators are asked who leads.
    public var pollInterval: Duration = .milliseconds(200)
    /// How long a leader may stay silent before another coordinator takes over.
    public var failoverTimeout: Duration = .seconds(1)
    /// Extra wait before taking over per live coordinator with a lower id.
    public var rankDelay: Duration = .milliseconds(500)
    /// Backups taken and served while leading; nil keeps none (no `--backup-dir`). A staged
    /// recovery lives in the `staging/` subdirectory of `backups.directory`; without it, in
    /// memory only.
    public var backups: BackupSettings?

    public init(
        id: NodeID,
        advertisedAddress: String,
        replicas: [NodeID: Endpoint],
        quorum: Int,
        clusterID: ClusterID,
        security: TransportSecurity
    ) {
        self.id = id
        self.advertisedAddress = advertisedAddress
        self.replicas = replicas
        self.quorum = quorum
        self.clusterID = clusterID
        self.security = security
        self.coordinatorSecurity = security
    }

    /// When this coordinator may lead, as the failover logic sees it.
    public var leaderWatch: LeaderWatchConfiguration {
        var watch = LeaderWatchConfiguration(id: id, peers: coordinators.keys.sorted())
        watch.pollInterval = pollInterval
        watch.failoverTimeout = failoverTimeout
        watch.rankDelay = rankDelay
        return watch
    }

    public var consensus: CoordinatorConfiguration {
        var configuration = CoordinatorConfiguration(
            id: id,
            replicas: replicas.keys.sorted(),
            quorum: quorum,
            proposerID: UInt8(truncatingIfNeeded: id.rawValue)
        )
        // Elections are started by the node when no other coordinator leads (``LeaderWatch``),
        // never as a side effect of a client's operation.
        configuration.electsOnDemand = false
        return configuration
    }

    public var problem: String? {
        if id.rawValue == 0 || id.rawValue > 255 {
            return
                "coordinator id \(id.rawValue) is out of range: ids are 1 to 255, unique across replicas and coordinators"
        }
        if replicas[id] != nil { return "coordinator id \(id.rawValue) is also a replica's id; ids must be unique" }
        if let clash = coordinators.keys.sorted().first(where: { replicas[$0] != nil }) {
            return "coordinator id \(clash.rawValue) is also a replica's id; ids must be unique"
        }
        if let bad = coordinators.keys.sorted().first(where: { $0.rawValue == 0 || $0.rawValue > 255 }) {
            return "coordinator id \(bad.rawValue) is out of range: ids are 1 to 255"
        }
        if let problem = backups?.problem { return problem }
        return consensus.problem ?? leaderWatch.problem
    }
}
