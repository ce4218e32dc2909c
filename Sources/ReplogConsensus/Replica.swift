public import ReplogModel
public import ReplogWire

/// What a ``Replica`` asks its shell to do. The shell carries the directives out in order.
public enum ReplicaDirective: Sendable, Hashable {
    /// Persist these records, then call ``Replica/persisted(_:)`` with the token once they are
    /// durable. Reads must reflect them as soon as this directive is carried out.
    case persist([StoreRecord], token: PersistToken)
    /// Send this envelope to a peer (best effort: the protocol tolerates loss).
    case send(Envelope, to: NodeID)
    /// Call ``Replica/timerFired(_:store:)`` with this timer after the delay.
    case schedule(ReplicaTimer, after: Duration)
    /// The replica's status changed (for logs and the `log/recovered` metric).
    case statusChanged(ReplicaStatus)
    /// Recovery cannot finish yet, and this says why and what to do.
    case diagnose(String)
}

/// A timer a replica asked for. Timers of an older generation are ignored when they fire.
public struct ReplicaTimer: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case recovery
        case catchup
        case fill
        case gap
        case fence
    }
    public var kind: Kind
    public var generation: UInt64
}

/// The replica state machine: Paxos acceptor and learner, the recover protocol and catch-up.
///
/// It is pure: events come in (messages, persist confirmations, timers) and directives come out.
/// The log itself lives in the store; the replica reads it through ``ReplicaStoreReading`` and
/// writes it with `.persist` directives. A reply that depends on a persist is held back until the
/// store confirms it, so a crash can never leave a peer believing something the disk forgot.
public struct Replica: Sendable {
    public let configuration: ReplicaConfiguration
    var random: SplitMix64
    /// The metadata as of the last persist issued (the store's, plus what is on its way).
    public internal(set) var metadata: ReplicaMetadata = ReplicaMetadata()
    var lastIssued: UInt64 = 0
    var confirmed: UInt64 = 0
    var held: [(token: UInt64, directives: [ReplicaDirective])] = []
    var nextRequestID: UInt64 = 1
    var timerGenerations: [ReplicaTimer.Kind: UInt64] = [:]
    /// Every position up to here is learned locally (or truncated away).
    public internal(set) var learnedThrough: Position = 0
    /// The highest position this replica heard was chosen.
    public internal(set) var knownChosen: Position = 0
    var recovery: RecoveryRound?
    var catchup: Catchup?
    var fill: FillState?
    var fence: Fence?
    var gapScheduled = false
    /// A peer reported a learned truncation to here: nothing below it needs fetching.
    var truncatedBelowHint: Position = 0

    /// Creates a replica; `seed` feeds its jitter and its choice of peers.
    public init(configuration: ReplicaConfiguration, seed: UInt64) {
        precondition(configuration.problem == nil, configuration.problem ?? "")
        self.configuration = configuration
        self.random = SplitMix64(seed: seed)
    }

    public var status: ReplicaStatus { metadata.status }

    // MARK: Events

    /// Starts the replica on an opened store: a replica that is not VOTING starts recovering.
    public mutating func start(store: some ReplicaStoreReading) -> [ReplicaDirective] {
        metadata = store.metadata
        learnedThrough = 0
        refresh(store)
        var out: [ReplicaDirective] = []
        if metadata.status != .voting {
            startRecoveryRound(store: store, into: &out)
        }
        return out
    }

    /// The store made everything up to `token` durable: release the replies that waited for it.
    public mutating func persisted(_ token: PersistToken) -> [ReplicaDirective] {
        confirmed = max(confirmed, token.rawValue)
        var out: [ReplicaDirective] = []
        while let first = held.first, first.token <= confirmed {
            out.append(contentsOf: first.directives)
            held.removeFirst()
        }
        return out
    }

    /// A message arrived from a peer.
    public mutating func receive(_ incoming: Incoming, store: some ReplicaStoreReading) -> [ReplicaDirective] {
        refresh(store)
        var out: [ReplicaDirective] = []
        let id = incoming.envelope.requestID
        let from = incoming.from
        switch incoming.envelope.message {
        case .promiseRequest(let request):
            onPromise(request, id: id, from: from, store: store, into: &out)
        case .writeRequest(let request):
            if let chosen = request.chosen { onLearnedRange(chosen, store: store, into: &out) }
            onWrite(request, id: id, from: from, store: store, into: &out)
        case .learned(let learned):
            onLearned(learned, store: store, into: &out)
        case .learnedRange(let range):
            onLearnedRange(range, store: store, into: &out)
        case .recoverRequest:
            onRecoverRequest(id: id, from: from, store: store, into: &out)
        case .catchupRequest(let request):
            onCatchupRequest(request, id: id, from: from, store: store, into: &out)
        case .recoverResponse(let response) where incoming.envelope.isResponse:
            onRecoverResponse(response, id: id, from: from, store: store, into: &out)
        case .catchupResponse(let response) where incoming.envelope.isResponse:
            onCatchupResponse(response, id: id, from: from, store: store, into: &out)
        case .promiseResponse(let response) where incoming.envelope.isResponse && fence?.requestID == id:
            onFenceResponse(response, from: from, store: store, into: &out)
        case .promiseResponse(let response) where incoming.envelope.isResponse:
            onFillPromiseResponse(response, id: id, from: from, session: incoming.session, store: store, into: &out)
        case .writeResponse(let response) where incoming.envelope.isResponse:
            onFillWriteResponse(response, id: id, from: from, session: incoming.session, store: store, into: &out)
        case .ping(let ping):
            reply(.pong(ping), id: id, to: from, into: &out)
        default:
            if !incoming.envelope.isResponse {
                let text = "a replica does not handle \(incoming.envelope.message.type) messages"
                reply(.error(ErrorReply(code: .invalidRequest, text: text)), id: id, to: from, into: &out)
            }
        }
        scheduleGapCatchupIfNeeded(into: &out)
        return out
    }

    /// A timer the replica scheduled fired.
    public mutating func timerFired(_ timer: ReplicaTimer, store: some ReplicaStoreReading) -> [ReplicaDirective] {
        guard timerGenerations[timer.kind] == timer.generation else { return [] }
        refresh(store)
        var out: [ReplicaDirective] = []
        switch timer.kind {
        case .recovery: onRecoveryTimer(store: store, into: &out)
        case .catchup: onCatchupTimer(store: store, into: &out)
        case .fill: onFillTimer(store: store, into: &out)
        case .fence: onFenceTimer(into: &out)
        case .gap:
            gapScheduled = false
            startGapCatchup(store: store, into: &out)
        }
        scheduleGapCatchupIfNeeded(into: &out)
        return out
    }

    // MARK: Plumbing

    /// Brings the in-memory summary up to date with the store (which reflects every persist
    /// issued before this event).
    mutating func refresh(_ store: some ReplicaStoreReading) {
        let begin = store.begin
        if begin > 0, learnedThrough < begin - 1 { learnedThrough = begin - 1 }
        while store.isLearned(at: learnedThrough + 1) {
            learnedThrough += 1
        }
        knownChosen = max(knownChosen, learnedThrough)
    }

    mutating func persist(_ records: [StoreRecord], into out: inout [ReplicaDirective]) {
        lastIssued += 1
        out.append(.persist(records, token: PersistToken(lastIssued)))
    }

    mutating func persistMetadata(_ new: ReplicaMetadata, into out: inout [ReplicaDirective]) {
        let statusChanged = new.status != metadata.status
        metadata = new
        persist([.metadata(new)], into: &out)
        if statusChanged { out.append(.statusChanged(new.status)) }
    }

    /// Sends `message` as the answer to request `id`, after every persist issued so far is durable.
    mutating func reply(_ message: Message, id: UInt64, to peer: NodeID, into out: inout [ReplicaDirective]) {
        let send = ReplicaDirective.send(.response(message, to: id), to: peer)
        if lastIssued > confirmed {
            if let last = held.last, last.token == lastIssued {
                held[held.count - 1].directives.append(send)
            } else {
                held.append((lastIssued, [send]))
            }
        } else {
            out.append(send)
        }
    }

    mutating func request(_ message: Message, to peer: NodeID, id: UInt64, into out: inout [ReplicaDirective]) {
        out.append(.send(.request(message, id: id), to: peer))
    }

    mutating func newRequestID() -> UInt64 {
        defer { nextRequestID += 1 }
        return nextRequestID
    }

    mutating func schedule(_ kind: ReplicaTimer.Kind, after delay: Duration, into out: inout [ReplicaDirective]) {
        let generation = (timerGenerations[kind] ?? 0) + 1
        timerGenerations[kind] = generation
        out.append(.schedule(ReplicaTimer(kind: kind, generation: generation), after: delay))
    }

    mutating func cancel(_ kind: ReplicaTimer.Kind) {
        timerGenerations[kind] = (timerGenerations[kind] ?? 0) + 1
    }

    mutating func randomDelay(_ range: ClosedRange<Duration>) -> Duration {
        Duration.random(in: range.lowerBound, range.upperBound, using: &random)
    }
}

extension Action {
    /// What a replica answers for a position below its `begin`: removed by a learned truncation.
    static func tombstone(at position: Position) -> Action {
        Action(position: position, promised: 0, performed: 0, learned: true, value: .nop(tombstone: true))
    }
}

extension Replica: CustomStringConvertible {
    /// A one-line summary of what the replica is doing, for logs and failure reports.
    public var description: String {
        var parts = [
            "\(configuration.id) \(metadata.status)", "learned through \(learnedThrough)",
            "known chosen \(knownChosen)",
        ]
        if let catchup {
            parts.append(
                "catch-up(\(catchup.purpose), pass \(catchup.pass), target \(catchup.target), "
                    + "cursor \(catchup.cursor), \(catchup.pending.count) pending, "
                    + "\(catchup.outstanding.count) out, \(catchup.missing.count) missing)"
            )
        }
        if let fill {
            parts.append(
                "fill(proposal \(fill.proposal), \(fill.queue.count) queued, \(fill.slots.count) active, "
                    + "backing off \(fill.backingOff))"
            )
        }
        if recovery != nil { parts.append("recovery round") }
        if gapScheduled { parts.append("gap check scheduled") }
        return parts.joined(separator: ", ")
    }
}
