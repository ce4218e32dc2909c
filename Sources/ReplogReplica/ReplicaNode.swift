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
    private let store: ConsensusStore
    private let logger: Logger
    private var links: [NodeID: PeerLink] = [:]
    private var waiting: [UInt64: CheckedContinuation<Message?, Never>] = [:]
    private var nextRequestID: UInt64 = 1
    private var queuedPersists: [(records: [StoreRecord], token: UInt64)] = []
    private var committing = false
    private var lastDiagnosis: (text: String, at: ContinuousClock.Instant)?
    private var timers: [UInt64: Task<Void, Never>] = [:]
    private var nextTimer: UInt64 = 0
    private var deadlines = AnswerDeadlines<ContinuousClock.Instant>()
    private var sweeper: Task<Void, Never>?
    private var stopped = false
    private let metrics: ReplicaMetrics

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
        // Records never span segments: a segment must hold the largest entry the protocol allows,
        // or a legal append would fail every replica's store.
        let smallestSegment = Int(WireLimits.maxEntrySize) + (64 << 10)
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
        recordPositions()
        carryOut(replica.start(store: store))
    }

    /// Stops timers and connections; requests still waiting get no answer.
    public func stop() async {
        stopped = true
        for timer in timers.values { timer.cancel() }
        timers.removeAll()
        sweeper?.cancel()
        sweeper = nil
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
        guard !stopped else { return .error(ErrorReply(code: .unavailable, text: "the replica is stopping")) }
        guard let from = NodeID(wireName: peer.identity.nodeID) else {
            return .error(ErrorReply(code: .invalidRequest, text: "peer id '\(peer.identity.nodeID)' is not a number"))
        }
        switch message {
        case .learned, .learnedRange:
            carryOut(replica.receive(Incoming(.request(message, id: 0), from: from), store: store))
            return nil
        default:
            let id = nextRequestID
            nextRequestID += 1
            let deadline = ContinuousClock.now + configuration.answerTimeout
            return await withCheckedContinuation { (continuation: CheckedContinuation<Message?, Never>) in
                waiting[id] = continuation
                _ = deadlines.nextDeadline { waiting[$0] != nil }  // keeps the queue as short as the backlog
                deadlines.add(id, deadline: deadline)
                if sweeper == nil { sweeper = Task { [weak self] in await self?.sweepDeadlines() } }
                carryOut(replica.receive(Incoming(.request(message, id: id), from: from), store: store))
            }
        }
    }

    /// Gives up on requests the core has not answered in time, one deadline after the other,
    /// and ends when none is waiting.
    private func sweepDeadlines() async {
        while !stopped, let next = deadlines.nextDeadline(isWaiting: { waiting[$0] != nil }) {
            try? await Task.sleep(until: next, clock: .continuous)
            if Task.isCancelled { return }
            for id in deadlines.expired(at: ContinuousClock.now, isWaiting: { waiting[$0] != nil }) {
                waiting.removeValue(forKey: id)?.resume(returning: nil)
            }
        }
        sweeper = nil
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
                schedule(after: delay) { node in await node.fire(timer) }
            case .statusChanged(let status):
                logger.notice("replica status changed", metadata: ["replica/status": "\(status)"])
                metrics.record(status: status)
                metrics.statusChanges.increment()
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
        carryOut(replica.receive(incoming, store: store))
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

    private func schedule(after delay: Duration, _ action: @escaping @Sendable (ReplicaNode) async -> Void) {
        nextTimer += 1
        let id = nextTimer
        timers[id] = Task { [weak self] in
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled, let self else { return }
            await action(self)
            await self.timerFinished(id)
        }
    }

    private func timerFinished(_ id: UInt64) {
        timers[id] = nil
    }

    private func recordPositions() {
        metrics.begin.record(Int64(clamping: store.begin))
        metrics.end.record(Int64(clamping: store.end))
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
                stopped = true
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
