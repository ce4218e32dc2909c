public import NIOCore
public import ReplogModel
import ReplogWire

/// The proposer: elects itself with an implicit promise, fills every unlearned position up to the
/// highest end a quorum reported, then appends and truncates with pipelined, batched quorum writes
/// that are learned in position order.
///
/// Safety never depends on timing: a coordinator only writes with a proposal a quorum promised,
/// and a REJECT (someone promised higher) ends its leadership at once. Timing (ticks, back-off)
/// only decides who gets to try when, so that two coordinators do not duel forever.
public struct Coordinator: Sendable {
    public enum Phase: Sendable, Hashable {
        /// Not leading and not trying to (nothing to do, or backing off).
        case idle
        /// Waiting for a quorum of implicit promises.
        case electing
        /// Elected; filling unlearned positions before serving appends.
        case filling
        /// Serving appends and truncations.
        case leading
    }

    struct Election: Sendable {
        var requestID: UInt64
        var promises: [NodeID: (session: UInt64, end: Position)] = [:]
        var startedTick: UInt64
    }

    struct FillSlot: Sendable {
        var promiseID: UInt64
        var writeID: UInt64 = 0
        var promises: [NodeID: (session: UInt64, action: Action?)] = [:]
        var value: ActionValue?
        var acks: Set<NodeID> = []
        var sentTick: UInt64
        var attempts = 1
    }

    struct Batch: Sendable {
        var position: Position
        var values: [ActionValue]
        var operations: [(id: OperationID, position: Position, count: Int, isTruncate: Bool)]
        var acks: Set<NodeID> = []
        var sentTick: UInt64
        var attempts = 1
    }

    enum Chosen: Sendable {
        /// Chosen by a write of ours: replicas that performed it learn it from a LearnedRange.
        case written
        /// Learned somewhere already: broadcast in full.
        case learned(Action)
    }

    public let configuration: CoordinatorConfiguration
    var random: SplitMix64
    public internal(set) var phase: Phase = .idle
    /// The proposal of the current (or last) election.
    public internal(set) var proposal: Proposal = 0
    var highestSeen: Proposal = 0
    /// For each position the last election filled with a value some proposal had written: that
    /// proposal (the value's origin, before this coordinator wrote it again with its own). Lets
    /// the shell tell which appends of an earlier term made it into the log.
    public internal(set) var fillOrigins: [Position: Proposal] = [:]
    /// Every position up to here is chosen and its learned message was sent.
    public internal(set) var learnedThrough: Position = 0
    var nextPosition: Position = 1
    var now: UInt64 = 0
    var tickRunning = false
    var timerGenerations: [CoordinatorTimer.Kind: UInt64] = [:]
    var nextRequestID: UInt64 = 1
    var failures = 0
    var backingOff = false

    var election: Election?
    /// The request id of the implicit promise that won the current term.
    var termRequestID: UInt64 = 0
    var promisedSessions: [NodeID: UInt64] = [:]
    var fillEnd: Position = 0
    var fillQueue: [Position] = []
    var fillSlots: [Position: FillSlot] = [:]
    var queue: [PendingOperation] = []
    var batches: [UInt64: Batch] = [:]
    var requests: [UInt64: Position] = [:]
    var chosen: [Position: Chosen] = [:]
    /// Chosen positions whose learned range was not sent yet: the next write carries it, or the
    /// `chosenHold` timer broadcasts it (Coordinator+Writes.swift).
    var heldChosen: LearnedRange?
    var chosenFlushScheduled = false

    public init(configuration: CoordinatorConfiguration, seed: UInt64) {
        precondition(configuration.problem == nil, configuration.problem ?? "")
        self.configuration = configuration
        self.random = SplitMix64(seed: seed)
    }

    public var isLeading: Bool { phase == .leading }

    /// The highest proposal a replica reported while refusing this coordinator (its low byte names
    /// the proposer that made it).
    public var highestSeenProposal: Proposal { highestSeen }

    /// Operations accepted and not yet completed.
    public var outstandingOperations: Int {
        queue.count + batches.values.reduce(0) { $0 + $1.operations.count }
    }

    // MARK: Client operations

    /// Appends `entries` at consecutive positions; completes once they are learned.
    public mutating func append(_ entries: [ByteBuffer], id: OperationID) -> [CoordinatorDirective] {
        var out: [CoordinatorDirective] = []
        guard !entries.isEmpty else {
            out.append(
                .complete(id, .failure(ErrorReply(code: .invalidRequest, text: "an append needs at least one entry")))
            )
            return out
        }
        if let tooLarge = entries.first(where: { $0.readableBytes > Int(WireLimits.maxEntrySize) }) {
            let text =
                "an entry of \(tooLarge.readableBytes) bytes exceeds the \(WireLimits.maxEntrySize)-byte limit; "
                + "split it"
            out.append(.complete(id, .failure(ErrorReply(code: .entryTooLarge, text: text))))
            return out
        }
        enqueue(PendingOperation(id: id, kind: .append(entries), deadline: 0), into: &out)
        return out
    }

    /// Truncates the log below `position`; completes once the TRUNCATE action is learned.
    public mutating func truncate(to position: Position, id: OperationID) -> [CoordinatorDirective] {
        var out: [CoordinatorDirective] = []
        enqueue(PendingOperation(id: id, kind: .truncate(position), deadline: 0), into: &out)
        return out
    }

    /// Starts an election now, without waiting for an operation (for a coordinator that should
    /// lead from the start, and for tests).
    public mutating func elect() -> [CoordinatorDirective] {
        var out: [CoordinatorDirective] = []
        if phase == .idle, !backingOff { startElection(into: &out) }
        return out
    }

    /// Another coordinator, leading, reported every position up to `position` learned: a later
    /// election of this one need not fill them. Ignored while this coordinator leads or runs an
    /// election (its own view is then the authority).
    public mutating func noteLearned(through position: Position) {
        guard phase == .idle else { return }
        learnedThrough = max(learnedThrough, position)
    }

    mutating func enqueue(_ operation: PendingOperation, into out: inout [CoordinatorDirective]) {
        guard queue.count < configuration.maxQueuedOperations else {
            let text = "\(queue.count) operations are already waiting; retry later"
            out.append(.complete(operation.id, .failure(ErrorReply(code: .overloaded, text: text))))
            return
        }
        var operation = operation
        operation.deadline = now + configuration.ticks(configuration.operationTimeout)
        if phase == .idle, !configuration.electsOnDemand {
            let text = "this coordinator does not lead; ask the leading coordinator"
            out.append(.complete(operation.id, .failure(ErrorReply(code: .notLeader, text: text))))
            return
        }
        queue.append(operation)
        ensureTick(into: &out)
        switch phase {
        case .idle where !backingOff: startElection(into: &out)
        case .leading: pumpWrites(into: &out)
        default: break
        }
    }

    // MARK: Events

    /// A message arrived from a replica.
    public mutating func receive(_ incoming: Incoming) -> [CoordinatorDirective] {
        var out: [CoordinatorDirective] = []
        guard incoming.envelope.isResponse else { return out }
        let id = incoming.envelope.requestID
        switch incoming.envelope.message {
        case .promiseResponse(let response):
            if let election, election.requestID == id {
                onElectionResponse(response, from: incoming.from, session: incoming.session, into: &out)
            } else if id == termRequestID, phase == .filling || phase == .leading {
                onLatePromise(response, from: incoming.from, session: incoming.session, into: &out)
            } else if let position = requests[id] {
                onFillPromise(response, position: position, id: id, incoming: incoming, into: &out)
            }
        case .writeResponse(let response):
            if batches[id] != nil {
                onBatchResponse(response, id: id, incoming: incoming, into: &out)
            } else if let position = requests[id] {
                onFillWrite(response, position: position, id: id, incoming: incoming, into: &out)
            }
        default:
            break
        }
        return out
    }

    /// A timer the coordinator scheduled fired.
    public mutating func timerFired(_ timer: CoordinatorTimer) -> [CoordinatorDirective] {
        var out: [CoordinatorDirective] = []
        guard timerGenerations[timer.kind] == timer.generation else { return out }
        switch timer.kind {
        case .tick:
            tickRunning = false
            now += 1
            onTick(into: &out)
        case .backoff:
            backingOff = false
            if phase == .idle, !queue.isEmpty, configuration.electsOnDemand { startElection(into: &out) }
        case .chosenHold:
            chosenFlushScheduled = false
            broadcastHeldChosen(into: &out)
        }
        if phase != .idle || !queue.isEmpty { ensureTick(into: &out) }
        return out
    }

    // MARK: Election

    mutating func startElection(into out: inout [CoordinatorDirective]) {
        proposal = ProposalNumbers.next(above: max(proposal, highestSeen), proposer: configuration.proposerID)
        let id = newRequestID()
        election = Election(requestID: id, startedTick: now)
        phase = .electing
        fillOrigins = [:]
        for replica in configuration.replicas {
            out.append(.send(.request(.promiseRequest(PromiseRequest(proposal: proposal)), id: id), to: replica))
        }
        ensureTick(into: &out)
    }

    mutating func onElectionResponse(
        _ response: PromiseResponse,
        from: NodeID,
        session: UInt64,
        into out: inout [CoordinatorDirective]
    ) {
        guard phase == .electing, var election else { return }
        switch response.result {
        case .reject:
            highestSeen = max(highestSeen, response.proposal)
            loseLeadership(
                ErrorReply(code: .notLeader, text: "another coordinator holds a higher proposal"),
                into: &out
            )
            return
        case .ignored:
            return
        case .accept:
            guard response.proposal == proposal else { return }
            election.promises[from] = (session, response.position)
        }
        self.election = election
        guard election.promises.count >= configuration.quorum else { return }
        // Won: the promise of this quorum covers every position. Fill what is not known learned.
        promisedSessions = election.promises.mapValues(\.session)
        termRequestID = election.requestID
        self.election = nil
        let end = election.promises.values.map(\.end).max() ?? 0
        fillEnd = end
        phase = .filling
        chosen = [:]
        fillQueue = learnedThrough < end ? Array((learnedThrough + 1)...end) : []
        fillSlots = [:]
        pumpFill(into: &out)
    }

    /// A promise for the current term that arrived after the quorum: that replica's acceptances
    /// count from now on, so one slow or crashed promiser does not stall every write.
    mutating func onLatePromise(
        _ response: PromiseResponse,
        from: NodeID,
        session: UInt64,
        into out: inout [CoordinatorDirective]
    ) {
        switch response.result {
        case .accept where response.proposal == proposal:
            promisedSessions[from] = session
        case .reject where response.proposal == proposal:
            // It already promised exactly our proposal (numbers are unique per proposer), and a
            // replica answers only from durable state: the earlier ACCEPT was lost on the way.
            promisedSessions[from] = session
        case .reject where response.proposal > proposal:
            noteRejection(response.proposal, into: &out)
        default:
            break
        }
    }

    /// Leadership (or the attempt) ended: fail writes in flight, back off, and try again if work waits.
    mutating func loseLeadership(_ error: ErrorReply, into out: inout [CoordinatorDirective]) {
        let wasLeading = phase == .leading
        for batch in batches.values.sorted(by: { $0.position < $1.position }) {
            for operation in batch.operations { out.append(.complete(operation.id, .failure(error))) }
        }
        batches = [:]
        requests = [:]
        fillSlots = [:]
        fillQueue = []
        election = nil
        termRequestID = 0
        promisedSessions = [:]
        // Positions chosen in this term but not learned in order are found again by the next fill.
        chosen = [:]
        phase = .idle
        failures += 1
        if !configuration.electsOnDemand {
            // Nobody contests the leadership on these operations' behalf: let their clients go to
            // the coordinator that leads now.
            for operation in queue { out.append(.complete(operation.id, .failure(error))) }
            queue = []
        }
        if wasLeading { out.append(.leadership(leading: false, proposal: proposal)) }
        let exponent = min(failures - 1, 5)
        let base = configuration.backoffBase * (1 << exponent)
        let delay = min(configuration.maxBackoff, Duration.random(in: base, base * 2, using: &random))
        backingOff = true
        schedule(.backoff, after: delay, into: &out)
    }

    mutating func noteRejection(_ higher: Proposal, into out: inout [CoordinatorDirective]) {
        highestSeen = max(highestSeen, higher)
        let text =
            "leadership lost: a replica promised proposal \(higher), above ours (\(proposal)); retry the operation"
        loseLeadership(ErrorReply(code: .notLeader, text: text), into: &out)
    }

    // MARK: Plumbing

    mutating func newRequestID() -> UInt64 {
        defer { nextRequestID += 1 }
        return nextRequestID
    }

    mutating func ensureTick(into out: inout [CoordinatorDirective]) {
        guard !tickRunning else { return }
        tickRunning = true
        schedule(.tick, after: configuration.tick, into: &out)
    }

    /// Schedules a timer of `kind`; an earlier one of the same kind is then ignored when it fires.
    mutating func schedule(_ kind: CoordinatorTimer.Kind, after delay: Duration, into out: inout [CoordinatorDirective])
    {
        let generation = (timerGenerations[kind] ?? 0) + 1
        timerGenerations[kind] = generation
        out.append(.schedule(CoordinatorTimer(kind: kind, generation: generation), after: delay))
    }

    mutating func onTick(into out: inout [CoordinatorDirective]) {
        // Operations that waited too long for a position fail; those already written wait for
        // their batch, which retries and finally gives up leadership (failing them) on its own.
        let expired = queue.filter { $0.deadline <= now }
        if !expired.isEmpty {
            queue.removeAll { $0.deadline <= now }
            for operation in expired {
                let text = "no quorum within \(configuration.operationTimeout); the operation may be retried"
                out.append(.complete(operation.id, .failure(ErrorReply(code: .timeout, text: text))))
            }
        }
        switch phase {
        case .idle:
            break
        case .electing:
            if let election, now - election.startedTick >= configuration.ticks(configuration.electionTimeout) {
                let text = "no quorum of replicas answered the election within \(configuration.electionTimeout)"
                loseLeadership(ErrorReply(code: .unavailable, text: text), into: &out)
            }
        case .filling:
            retryFill(into: &out)
        case .leading:
            retryBatches(into: &out)
        }
    }
}
