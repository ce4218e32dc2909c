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
    /// Where backups are kept (`--backup-dir`); a staged recovery lives in its `staging/`
    /// subdirectory. Without it a staged recovery is held in memory only.
    public var backupDirectory: String?
    /// How a recovery commit batches, retries and waits.
    public var recoveryCommit = RecoveryCommit.Configuration()
    public var connection = ConnectionOptions()

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
    }

    public var consensus: CoordinatorConfiguration {
        CoordinatorConfiguration(
            id: id,
            replicas: replicas.keys.sorted(),
            quorum: quorum,
            proposerID: UInt8(truncatingIfNeeded: id.rawValue)
        )
    }

    public var problem: String? {
        if id.rawValue == 0 || id.rawValue > 255 {
            return
                "coordinator id \(id.rawValue) is out of range: ids are 1 to 255, unique across replicas and coordinators"
        }
        if replicas[id] != nil { return "coordinator id \(id.rawValue) is also a replica's id; ids must be unique" }
        return consensus.problem
    }
}
