/// How a replica takes part in the cluster. Validated by ``Replica/init(configuration:seed:)``.
public struct ReplicaConfiguration: Sendable, Hashable {
    /// This replica.
    public var id: NodeID
    /// Every replica of the cluster, this one included.
    public var replicas: [NodeID]
    /// How many VOTING replicas make a quorum. Must be a majority of `replicas`: anything smaller
    /// lets two quorums miss each other and corrupts the log.
    public var quorum: Int
    /// The low byte of the proposals this replica uses when it fills holes during recovery. Must
    /// differ from every other replica's and coordinator's.
    public var proposerID: UInt8
    /// Lets a brand-new cluster initialize itself through STARTING when every replica is EMPTY.
    public var autoInitialize: Bool = false
    /// A recover round that decides nothing is retried after a random delay in this range.
    public var recoveryRetry: ClosedRange<Duration> = .milliseconds(500) ... .seconds(1)
    /// A recover round gives up waiting for answers after this long.
    public var recoveryRoundTimeout: Duration = .seconds(10)
    /// The most actions asked for in one catch-up request.
    public var catchupBatch: UInt64 = 128
    /// The value bytes asked for in one catch-up request.
    public var catchupMaxBytes: UInt32 = 4 << 20
    /// Catch-up requests in flight per peer.
    public var catchupWindowPerPeer: Int = 2
    /// A catch-up request without an answer after this long is asked of another peer.
    public var catchupTimeout: Duration = .seconds(1)
    /// How many catch-up passes a recovering replica makes before it fills what nobody learned.
    public var catchupPassesBeforeFill: Int = 2
    /// How long a VOTING replica that sees chosen positions it has not learned waits before asking.
    public var gapDelay: Duration = .milliseconds(300)
    /// Back-off range after a fill is rejected by a higher proposal.
    public var fillBackoff: ClosedRange<Duration> = .milliseconds(100) ... .milliseconds(200)
    /// Fills in flight at once.
    public var fillWindow: Int = 16

    public init(id: NodeID, replicas: [NodeID], quorum: Int? = nil, proposerID: UInt8) {
        self.id = id
        self.replicas = replicas
        self.quorum = quorum ?? (replicas.count / 2 + 1)
        self.proposerID = proposerID
    }

    /// The other replicas.
    public var peers: [NodeID] { replicas.filter { $0 != id } }

    /// Why this configuration is unsafe or unusable, or `nil` when it is fine.
    public var problem: String? {
        if !replicas.contains(id) { return "replica \(id) is not in its own replica list" }
        if Set(replicas).count != replicas.count { return "the replica list names a replica twice" }
        if quorum * 2 <= replicas.count {
            return "quorum \(quorum) is not a majority of \(replicas.count) replicas: two quorums could miss each "
                + "other and choose different values; use quorum \(replicas.count / 2 + 1)"
        }
        if quorum > replicas.count { return "quorum \(quorum) is larger than the \(replicas.count) replicas" }
        if proposerID == 0 { return "proposer id 0 is reserved; give every process a distinct id from 1 to 255" }
        return nil
    }
}
