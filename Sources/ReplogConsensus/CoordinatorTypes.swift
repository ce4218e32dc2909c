import NIOCore
public import ReplogModel
public import ReplogWire

/// How a coordinator proposes. Validated by ``Coordinator/init(configuration:seed:)``.
public struct CoordinatorConfiguration: Sendable, Hashable {
    public var id: NodeID
    /// Every replica of the cluster.
    public var replicas: [NodeID]
    /// VOTING replicas that make a quorum; must be a majority of `replicas`.
    public var quorum: Int
    /// The low byte of every proposal this coordinator makes; distinct per process, 1...255.
    public var proposerID: UInt8
    /// The period of the coordinator's clock tick; every timeout below is counted in ticks.
    public var tick: Duration = .milliseconds(100)
    /// An election without a quorum of answers after this long failed.
    public var electionTimeout: Duration = .seconds(1)
    /// Back-off after a lost election or a lost leadership: a random delay in `base ..< 2 * base`,
    /// doubled after each consecutive failure up to `maxBackoff`, so that two coordinators that
    /// collided rarely collide again.
    public var backoffBase: Duration = .milliseconds(100)
    public var maxBackoff: Duration = .seconds(2)
    /// A write (or fill step) without a quorum after this long is sent again to the silent replicas.
    public var writeRetry: Duration = .milliseconds(300)
    /// After this many sends without a quorum the coordinator gives up leadership and re-elects.
    public var writeAttempts: Int = 4
    /// A client operation not completed after this long fails with a timeout.
    public var operationTimeout: Duration = .seconds(5)
    /// Batches of writes in flight at once when they are full (see `maxInFlightPartialBatches`).
    ///
    /// Few on purpose: appends that arrive while these are in flight wait and go out together in
    /// the next batch, so that many clients cost few write, answer and learned messages (each a
    /// TLS record and a syscall on every replica).
    public var maxInFlightBatches: Int = 4
    /// Batches in flight at once while the next batch would not be full.
    ///
    /// A batch short of `maxBatchEntries` and `maxBatchBytes` waits while this many are in flight,
    /// so that appends arriving meanwhile join it: under load, batches grow until each round trip
    /// carries what arrived during the last, and a lone client still goes out at once. Full
    /// batches (large entries, deep queues) pipeline up to `maxInFlightBatches`. Measured with
    /// 64 clients on 2 cores: 1 gave 15,500 appends/s against 12,100 with 4 (docs/benchmarks.md).
    public var maxInFlightPartialBatches: Int = 1
    /// How long a learned range waits for a write to carry it before it is sent on its own.
    ///
    /// A replica then handles one message per append instead of two, also with a single client
    /// appending one entry at a time (p50 about 0.15 ms lower on 2 cores). The shell flushes the
    /// held range before serving a read (``Coordinator/releaseChosen()``), so the delay is seen
    /// only by replicas learning positions, which nothing waits for.
    public var chosenHold: Duration = .milliseconds(5)
    /// The most entries in one write request.
    public var maxBatchEntries: Int = 64
    /// About the most value bytes in one write request.
    public var maxBatchBytes: Int = 1 << 20
    /// Positions filled at once after an election.
    public var fillWindow: Int = 64
    /// Client operations waiting for leadership before new ones are refused as overloaded.
    public var maxQueuedOperations: Int = 10_000
    /// Whether an operation that arrives while the coordinator does not lead starts an election
    /// (and a lost leadership is contested again while operations wait). A coordinator that
    /// shares the cluster with others turns this off: elections are then started only by
    /// ``Coordinator/elect()``, which its shell calls when no other leader is alive, and
    /// operations that cannot be served fail with `notLeader` instead of waiting.
    public var electsOnDemand = true

    public init(id: NodeID, replicas: [NodeID], quorum: Int? = nil, proposerID: UInt8) {
        self.id = id
        self.replicas = replicas
        self.quorum = quorum ?? (replicas.count / 2 + 1)
        self.proposerID = proposerID
    }

    /// Why this configuration is unsafe or unusable, or `nil` when it is fine.
    public var problem: String? {
        if replicas.isEmpty { return "a coordinator needs at least one replica" }
        if Set(replicas).count != replicas.count { return "the replica list names a replica twice" }
        if quorum * 2 <= replicas.count {
            return "quorum \(quorum) is not a majority of \(replicas.count) replicas: use \(replicas.count / 2 + 1)"
        }
        if quorum > replicas.count { return "quorum \(quorum) is larger than the \(replicas.count) replicas" }
        if proposerID == 0 { return "proposer id 0 is reserved; give every process a distinct id from 1 to 255" }
        if tick <= .zero { return "the tick must be positive" }
        if maxInFlightBatches < 1 || maxInFlightPartialBatches < 1 {
            return "at least one batch of writes must be allowed in flight"
        }
        return nil
    }

    func ticks(_ duration: Duration) -> UInt64 {
        UInt64(max(1, (duration.nanoseconds + tick.nanoseconds - 1) / max(1, tick.nanoseconds)))
    }
}

/// Names one client operation; chosen by the shell, echoed in ``CoordinatorDirective/complete(_:_:)``.
public struct OperationID: Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "op#\(rawValue)" }
}

/// The outcome of a client operation that succeeded.
public enum OperationResult: Sendable, Hashable {
    /// The entries were learned at `position ..< position + count`.
    case appended(position: Position, count: UInt32)
    /// The truncation was learned at `position`.
    case truncated(position: Position)
}

/// What a ``Coordinator`` asks its shell to do.
public enum CoordinatorDirective: Sendable, Hashable {
    case send(Envelope, to: NodeID)
    /// Call ``Coordinator/timerFired(_:)`` with this timer after the delay.
    case schedule(CoordinatorTimer, after: Duration)
    /// Answer the client: the operation succeeded, or failed with a typed error.
    case complete(OperationID, Result<OperationResult, ErrorReply>)
    /// The coordinator started or stopped leading (for logs and metrics).
    case leadership(leading: Bool, proposal: Proposal)
    /// These operations were given positions and are about to be written with `proposal`:
    /// comes before the writes are sent, so that the shell can tell other coordinators first.
    case assigned([Assignment], proposal: Proposal)
}

/// The positions one client operation was given: `position ..< position + count`.
public struct Assignment: Sendable, Hashable {
    public var operation: OperationID
    public var position: Position
    public var count: UInt32

    public init(operation: OperationID, position: Position, count: UInt32) {
        self.operation = operation
        self.position = position
        self.count = count
    }
}

/// A timer a coordinator asked for; stale generations are ignored.
public struct CoordinatorTimer: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// The periodic clock that drives every timeout.
        case tick
        /// The end of the wait for a write to carry a learned range (``CoordinatorConfiguration/chosenHold``).
        case chosenHold
        /// The end of a back-off after a lost election.
        case backoff
    }
    public var kind: Kind
    public var generation: UInt64
}

/// A client operation waiting for a position.
struct PendingOperation: Sendable {
    enum Kind: Sendable {
        case append([ByteBuffer])
        case truncate(Position)
    }
    var id: OperationID
    var kind: Kind
    var deadline: UInt64
}
