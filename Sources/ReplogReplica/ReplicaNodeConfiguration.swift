public import ReplogConsensus
public import ReplogModel
public import ReplogNet

/// Everything a replica process needs to take part in its cluster.
public struct ReplicaNodeConfiguration: Sendable {
    /// This replica's id; its string form is the id in hellos and certificates.
    public var id: NodeID
    /// Every replica of the cluster (this one included) and where it listens.
    public var replicas: [NodeID: Endpoint]
    public var quorum: Int
    public var clusterID: ClusterID
    public var security: TransportSecurity
    public var autoInitialize = false
    /// The longest a request from a peer waits for the replica's answer before it is dropped.
    public var answerTimeout: Duration = .seconds(10)
    /// How long a recover round waits for answers. Shorter than Mesos's 10 s: a peer that was not
    /// up yet when the round started is asked again soon, so a cluster started in any order
    /// recovers within seconds.
    public var recoveryRoundTimeout: Duration = .seconds(3)
    public var connection = ConnectionOptions()

    public init(
        id: NodeID,
        replicas: [NodeID: Endpoint],
        quorum: Int,
        clusterID: ClusterID,
        security: TransportSecurity
    ) {
        self.id = id
        self.replicas = replicas
        self.quorum = quorum
        self.clusterID = clusterID
        self.security = security
    }

    /// The consensus core's configuration. Proposer ids are the low byte of the node id, which
    /// `validate` requires to be unique and non-zero.
    public var consensus: ReplicaConfiguration {
        var configuration = ReplicaConfiguration(
            id: id,
            replicas: replicas.keys.sorted(),
            quorum: quorum,
            proposerID: UInt8(truncatingIfNeeded: id.rawValue)
        )
        configuration.autoInitialize = autoInitialize
        configuration.recoveryRoundTimeout = recoveryRoundTimeout
        return configuration
    }

    /// Why this configuration cannot run, or nil.
    public var problem: String? {
        if replicas[id] == nil { return "replica \(id.rawValue) is not in the replica list" }
        if let bad = replicas.keys.first(where: { $0.rawValue == 0 || $0.rawValue > 255 }) {
            return
                "replica id \(bad.rawValue) is out of range: ids are 1 to 255, unique across replicas and coordinators"
        }
        return consensus.problem
    }
}
