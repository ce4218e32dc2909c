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
        if let problem = backups?.problem { return problem }
        return consensus.problem
    }
}
