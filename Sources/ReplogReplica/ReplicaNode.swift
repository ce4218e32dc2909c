public import CoreMetrics
public import Logging
import NIOCore
import ReplogConsensus
public import ReplogModel
public import ReplogNet
public import ReplogStorage
import ReplogWire

/// A running replica: the consensus core's ``Replica`` driven by network messages, timers and
/// its store, with the directives it returns carried out.
///
/// Requests from peers are numbered by the node (so that ids from different connections never
/// collide inside the core) and answered when the core's reply directive comes out, which is
/// only after the store made the state it depends on durable.
public actor ReplicaNode {
    public let configuration: ReplicaNodeConfiguration
    private var replica: Replica
    let store: ConsensusStore
    let logger: Logger
    private var links: [NodeID: PeerLink] = [:]
    private var waiting: [UInt64: CheckedContinuation<Message?, Never>] = [:]
    private var nextRequestID: UInt64 = 1
    private var queuedPersists: [(records: [StoreRecord], token: UInt64)] = []
    private var committing = false
    private var lastDiagnosis: (text: String, at: ContinuousClock.Instant)?
    private let timers = NodeTimers()
    /// When each request from a peer stops waiting for the core's answer.
    private var answerDeadlines = DeadlineQueue<UInt64>()
    private var answerSweepScheduled = false
    private var stopped = false
    private var draining = false
    /// Why the store stopped accepting writes, once it has (see `commitLoop`).
    var storageFailure: String?
    let metrics: ReplicaMetrics
    /// Recovery and catch-up progress, for metrics and the admin endpoint's status.
    private var progress = ReplicaProgress()

    /// Records never span segments: a segment must hold the largest entry the protocol allows,
    /// or a legal append would fail every replica's store.
    public static let smallestSegmentSize = Int(WireLimits.maxEntrySize) + (64 << 10)

    /// The replica's status right now.
    public var status: ReplicaStatus { replica.status }
    /// The store as the core sees it (for status reports).
    public var begin: Position { store.begin }
    public var end: Position { store.end }

    /// - Parameter metricsFactory: where the `replog_replica_*` metrics go.
    public init(
        configuration: ReplicaNodeConfiguration,
        store: ReplicaStore,
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws {
        if let problem = configuration.problem { throw ReplicaNodeError.invalidConfiguration(problem) }
        let smallestSegment = Self.smallestSegmentSize
        guard store.options.segmentSize >= smallestSegment else {
            throw ReplicaNodeError.invalidConfiguration(
                "the store's segments are \(store.options.segmentSize) bytes; a replica needs at least \(smallestSegment)"
                    + " to hold the largest entry"
            )
        }
        self.configuration = configuration
        self.store = ConsensusStore(store: store)
        self.metrics = ReplicaMetrics(factory: metricsFactory)
        var seed = SystemRandomNumberGenerator()
        self.replica = Replica(configuration: configuration.consensus, seed: seed.next())
        var logger = logger
        logger[metadataKey: "replica/id"] = "\(configuration.id.rawValue)"
        self.logger = logger
    }

    /// Starts the core: a replica that is not VOTING begins recovering.
    public func start() {
        logger.info("replica starting", metadata: ["replica/status": "\(store.metadata.status)"])
        metrics.record(status: store.metadata.status)
        if store.metadata.status != .voting {
            progress.recoveriesStarted += 1
            metrics.recoveriesStarted.increment()
        }
        recordPositions()
        reportDamage()
        carryOut(replica.start(store: store))
    }

    /// Recovery and catch-up so far.
    public var recoveryProgress: ReplicaProgress {
        var current = progress
        current.lag = lag
        return current
    }

    private var lag: UInt64 {
        let known = max(progress.highestKnown, replica.knownChosen)
        return known > store.end ? known - store.end : 0
    }

    /// Refuses new requests and waits (at most `timeout`) until everything already accepted is
    /// durable and answered.
    public func drain(timeout: Duration) async {
        draining = true
        let deadline = ContinuousClock.now + timeout
        // A replica whose store failed makes nothing durable any more: there is nothing to wait for.
        while !stopped, committing || !queuedPersists.isEmpty, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        logger.info("drained", metadata: ["replica/unanswered": "\(waiting.count)"])
    }

    /// Stops timers and connections; requests still waiting get no answer.
    public func stop() async {
        stopped = true
        timers.cancelAll()
        for continuation in waiting.values { continuation.resume(returning: nil) }
        waiting.removeAll()
        for link in links.values { await link.close() }
        links.removeAll()
    }

    /// The ``RPCServer`` handler of this replica.
    public nonisolated func handler() -> RPCServer.Handler {
        { [weak self] peer, message in await self?.handle(peer: peer, message: message) }
    }

    // MARK: Incoming

    func handle(peer: ConnectedPeer, message: Message) async -> Message? {
        // Answered even after a storage failure and while draining, so that `replog status` can show it.
        if case .statusRequest = message { return .statusResponse(statusReport()) }
        guard !stopped, !draining else {
            return .error(ErrorReply(code: .unavailable, text: "the replica is stopping"))
        }
        guard let from = NodeID(wireName: peer.identity.nodeID) else {
            return .error(ErrorReply(code: .invalidRequest, text: "peer id '\(peer.identity.nodeID)' is not a number"))
        }
        if let refusal = damageRefusal(for: message) {
            // What an earlier write chose is learned all the same.
            if case .writeRequest(let request) = message, let chosen = request.chosen {
                carryOut(replica.receive(Incoming(.request(.learnedRange(chosen), id: 0), from: from), store: store))
            }
            return .error(refusal)
        }
        switch message {
        case .learned, .learnedRange:
            carryOut(replica.receive(Incoming(.request(message, id: 0), from: from), store: store))
            return nil
        default:
            let id = nextRequestID
            nextRequestID += 1
            answerDeadlines.add(id, at: .now + configuration.answerTimeout)
            scheduleAnswerSweep()
            return await withCheckedContinuation { continuation in
                waiting[id] = continuation
                carryOut(replica.receive(Incoming(.request(message, id: id), from: from), store: store))
            }
        }
    }

    /// One timer, for the earliest answer deadline, instead of one per request.
    private func scheduleAnswerSweep() {
        guard !answerSweepScheduled, let earliest = answerDeadlines.earliest else { return }
        answerSweepScheduled = true
        timers.schedule(after: max(.zero, earliest - .now), on: self) { node in await node.expireAnswers() }
    }

    /// Requests whose answer did not come in time get none (their peer retries or gives up).
    private func expireAnswers() {
        answerSweepScheduled = false
        for id in answerDeadlines.expired(at: .now) {
            waiting.removeValue(forKey: id)?.resume(returning: nil)
        }
        scheduleAnswerSweep()
    }

    // MARK: Directives

    private func carryOut(_ directives: [ReplicaDirective]) {
        for directive in directives {
            switch directive {
            case .persist(let records, let token):
                store.stage(records, token: token.rawValue)
                queuedPersists.append((records, token.rawValue))
                if !committing { startCommitting() }
            case .send(let envelope, let to):
                send(envelope, to: to)
            case .schedule(let timer, let delay):
                timers.schedule(after: delay, on: self) { node in await node.fire(timer) }
            case .statusChanged(let status):
                logger.notice("replica status changed", metadata: ["replica/status": "\(status)"])
                metrics.record(status: status)
                metrics.statusChanges.increment()
                if status == .voting {
                    progress.recoveriesFinished += 1
                    metrics.recoveriesFinished.increment()
                }
            case .diagnose(let text):
                diagnose(text)
            }
        }
    }

    private func send(_ envelope: Envelope, to: NodeID) {
        if envelope.isResponse {
            if let waiter = waiting.removeValue(forKey: envelope.requestID) {
                metrics.requests.increment()
                waiter.resume(returning: envelope.message)
            }
            return
        }
        guard let link = link(to: to) else { return }
        switch envelope.message {
        case .learned, .learnedRange:
            Task { try? await link.send(envelope.message) }
        default:
            let id = envelope.requestID
            Task { [weak self] in
                guard let (answer, generation) = try? await link.requestWithGeneration(envelope.message) else { return }
                await self?.deliver(Incoming(.response(answer, to: id), from: to, session: generation))
            }
        }
    }

    private func deliver(_ incoming: Incoming) {
        guard !stopped else { return }
        noteProgress(incoming.envelope.message)
        carryOut(replica.receive(incoming, store: store))
    }

    /// What peers' answers say about how far behind this replica is.
    private func noteProgress(_ message: Message) {
        switch message {
        case .recoverResponse(let response):
            if let range = response.range { progress.highestKnown = max(progress.highestKnown, range.upperBound) }
        case .catchupResponse(let response):
            progress.highestKnown = max(progress.highestKnown, response.end)
            progress.catchupPositions += UInt64(response.actions.count)
            metrics.catchupPositions.increment(by: Int64(response.actions.count))
        default:
            return
        }
        metrics.lag.record(Int64(clamping: lag))
    }

    private func fire(_ timer: ReplicaTimer) {
        guard !stopped else { return }
        carryOut(replica.timerFired(timer, store: store))
    }

    private func link(to peer: NodeID) -> PeerLink? {
        if let link = links[peer] { return link }
        guard let endpoint = configuration.replicas[peer] else { return nil }
        var options = configuration.connection
        options.requestTimeout = .seconds(5)
        let link = PeerLink(
            host: endpoint.host,
            port: endpoint.port,
            identity: PeerIdentity(
                clusterID: configuration.clusterID,
                role: .replica,
                nodeID: configuration.id.wireName
            ),
            security: configuration.security,
            options: options,
            logger: logger
        )
        links[peer] = link
        return link
    }

    private func recordPositions() {
        metrics.begin.record(Int64(clamping: store.begin))
        metrics.end.record(Int64(clamping: store.end))
        metrics.damagedPositions.record(store.damagedPositions.count)
        metrics.lag.record(Int64(clamping: lag))
    }

    /// Logs a diagnosis at most every 10 seconds while it stays the same (never a silent loop,
    /// never a flood).
    private func diagnose(_ text: String) {
        let now = ContinuousClock.now
        if let last = lastDiagnosis, last.text == text, now - last.at < .seconds(10) { return }
        lastDiagnosis = (text, now)
        metrics.diagnoses.increment()
        logger.warning("\(text)", metadata: ["replica/status": "\(replica.status)"])
    }

    // MARK: Durability

    /// Commits everything queued, one batch at a time, then tells the core what became durable.
    private func startCommitting() {
        committing = true
        Task { [weak self] in await self?.commitLoop() }
    }

    private func commitLoop() async {
        while !queuedPersists.isEmpty && !stopped {
            let batch = queuedPersists
            queuedPersists.removeAll()
            do {
                try await store.commit(batch)
            } catch {
                // A write that cannot be made durable must never be acknowledged: stop serving.
                logger.critical("storage failed; the replica stops answering", metadata: ["storage/error": "\(error)"])
                storageFailure = "\(error)"
                metrics.storageFailed.record(1)
                stopped = true
                queuedPersists.removeAll()
                for continuation in waiting.values { continuation.resume(returning: nil) }
                waiting.removeAll()
                break
            }
            if let last = batch.last { carryOut(replica.persisted(PersistToken(last.token))) }
            recordPositions()
        }
        committing = false
    }
}

/// Why a replica cannot start.
public enum ReplicaNodeError: Error, Sendable, CustomStringConvertible {
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let problem): return "invalid replica configuration: \(problem)"
        }
    }
}

/// A replica's recovery and catch-up, as its status report shows them.
public struct ReplicaProgress: Sendable, Hashable {
    /// Recoveries started (the replica came up not VOTING) and finished (it reached VOTING).
    public var recoveriesStarted = 0
    public var recoveriesFinished = 0
    /// Learned positions fetched from peers by catch-up.
    public var catchupPositions: UInt64 = 0
    /// The highest position this replica heard of from its peers.
    public var highestKnown: Position = 0
    /// How many positions its end is behind what it heard of.
    public var lag: UInt64 = 0
}
