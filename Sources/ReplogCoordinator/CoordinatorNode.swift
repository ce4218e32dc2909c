public import CoreMetrics
public import Logging
import NIOCore
import ReplogConsensus
public import ReplogModel
public import ReplogNet
import ReplogWire

/// A running coordinator: the consensus core's ``Coordinator`` fed by client requests and
/// replica answers, plus what the core leaves to the shell: de-duplicating appends by token,
/// reads (served from the replicas' learned actions), positions and status.
public actor CoordinatorNode {
    public let configuration: CoordinatorNodeConfiguration
    var coordinator: Coordinator
    let logger: Logger
    let metricsFactory: any MetricsFactory
    /// Scheduled and on-demand backups, with `--backup-dir` (CoordinatorNode+Backups.swift).
    var backups: BackupService?
    private var links: [NodeID: PeerLink] = [:]
    private var operations: [OperationID: CheckedContinuation<Result<OperationResult, ErrorReply>, Never>] = [:]
    var appendTokens: [OperationID: AppendToken] = [:]
    var deduplication: AppendDeduplication<RPCServer.Responder>
    private var nextOperation: UInt64 = 1
    private let timers = NodeTimers()
    private var readRotation = 0
    var stopped = false
    /// Set while draining: new client operations are refused, those in flight finish.
    var draining = false
    let metrics: CoordinatorMetrics
    // Failover among several coordinators (CoordinatorNode+Failover.swift).
    var watch: LeaderWatch
    /// The origin of the watch's clock.
    let epoch = ContinuousClock.now
    var coordinatorLinks: [NodeID: PeerLink] = [:]
    var ledger: TokenLedger
    /// Writes wait for this: the announcement of their appends' positions to the other coordinators.
    var announcement: Task<Void, Never>?
    var knownLeader: NodeID?
    var rejectionsSeen: Proposal = 0
    /// Counts for the status report (the metrics have them too).
    var electionsStarted = 0
    var leaderChangesSeen = 0
    /// When each client operation in flight arrived, and how many entry bytes it carries.
    private var started: [OperationID: (at: ContinuousClock.Instant, entries: Int, bytes: Int)] = [:]
    /// A staged recovery, if any (`CoordinatorNode+Recovery.swift`).
    var recovery: RecoveryStage

    /// Whether this coordinator leads right now.
    public var isLeading: Bool { coordinator.isLeading }
    /// The highest position this coordinator knows to be learned.
    public var learnedThrough: Position { coordinator.learnedThrough }

    /// - Parameter metricsFactory: where the `replog_coordinator_*` metrics go.
    public init(
        configuration: CoordinatorNodeConfiguration,
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws {
        if let problem = configuration.problem { throw CoordinatorNodeError.invalidConfiguration(problem) }
        self.configuration = configuration
        var seed = SystemRandomNumberGenerator()
        self.coordinator = Coordinator(configuration: configuration.consensus, seed: seed.next())
        self.deduplication = AppendDeduplication(capacity: configuration.rememberedAppends)
        self.ledger = TokenLedger(capacity: configuration.rememberedAppends)
        self.watch = LeaderWatch(configuration: configuration.leaderWatch, seed: seed.next(), now: .zero)
        self.metrics = CoordinatorMetrics(factory: metricsFactory)
        self.metricsFactory = metricsFactory
        let backupDirectory = configuration.backups?.directory
        do {
            self.recovery = try RecoveryStage(backupDirectory: backupDirectory, metricsFactory: metricsFactory)
        } catch {
            throw CoordinatorNodeError.invalidConfiguration(
                "the staged recovery under \(backupDirectory ?? "")/staging cannot be loaded: \(error)"
            )
        }
        var logger = logger
        logger[metadataKey: "coordinator/id"] = "\(configuration.id.rawValue)"
        self.logger = logger
    }

    /// Starts watching leadership: a lone coordinator elects itself at once; one of several
    /// elects itself only when no other coordinator leads (``LeaderWatch``). Starts the backup
    /// schedule too (backups are taken only while leading).
    public func start() async {
        watchTick()
        await startBackups()
    }

    /// Refuses new client operations and waits (at most `timeout`) for those in flight to be
    /// answered, so that a SIGTERM does not leave clients guessing about appends.
    public func drain(timeout: Duration) async {
        draining = true
        let deadline = ContinuousClock.now + timeout
        while !operations.isEmpty || !appendTokens.isEmpty, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        logger.info("drained", metadata: ["coordinator/unanswered": "\(operations.count + appendTokens.count)"])
        await releaseChosenNow()
    }

    /// Sends the learned range the core holds for the next write to the replicas connected now,
    /// and waits until it is written: at a stop, no write will carry it (a replica not reached
    /// learns the positions from its peers).
    private func releaseChosenNow() async {
        for directive in coordinator.releaseChosen() {
            guard case .send(let envelope, let replica) = directive, let link = links[replica],
                await link.isConnected
            else { continue }
            try? await link.send(envelope.message)
        }
    }

    public func stop() async {
        await releaseChosenNow()
        stopped = true
        await backups?.stop()
        announcement?.cancel()
        for link in coordinatorLinks.values { await link.close() }
        coordinatorLinks.removeAll()
        timers.cancelAll()
        for continuation in operations.values {
            continuation.resume(
                returning: .failure(ErrorReply(code: .unavailable, text: "the coordinator is stopping"))
            )
        }
        operations.removeAll()
        for link in links.values { await link.close() }
        links.removeAll()
    }

    /// The ``RPCServer`` handler for clients and tools.
    public nonisolated func handler() -> RPCServer.Handler {
        { [weak self] peer, message in
            guard let self else { return nil }
            if case .leaderProgress(let progress) = message {
                if peer.identity.role == .coordinator {
                    await self.receiveProgress(progress, from: peer.identity.nodeID)
                }
                return nil
            }
            return await self.handle(message)
        }
    }

    /// The ``RPCServer`` append handler: the appends of one read from a client, each answered
    /// through its responder (``RPCServer/AppendHandler``).
    public nonisolated func appendHandler() -> RPCServer.AppendHandler {
        { [weak self] _, appends in
            guard let self else {
                for (_, respond) in appends { respond(nil) }
                return
            }
            await self.appendAll(appends)
        }
    }

    private func appendAll(_ appends: [(AppendRequest, RPCServer.Responder)]) {
        for (request, respond) in appends {
            if let refusal = writeRefusal() {
                respond(.error(refusal))
            } else if request.token.client == 0 {
                Task { respond(await self.append(request)) }
            } else {
                startAppend(request, waiter: respond)
            }
        }
    }

    // MARK: Client requests

    /// Why a write (append or truncation) cannot be taken now, or nil.
    private func writeRefusal() -> ErrorReply? {
        if stopped { return ErrorReply(code: .unavailable, text: "the coordinator is stopping") }
        return refusal() ?? recovery.refuseWrite()
    }

    func handle(_ message: Message) async -> Message {
        guard !stopped else { return .error(ErrorReply(code: .unavailable, text: "the coordinator is stopping")) }
        switch message {
        case .appendRequest(let request):
            if let refusal = writeRefusal() { return .error(refusal) }
            return await append(request)
        case .truncateRequest(let request):
            if let refusal = writeRefusal() { return .error(refusal) }
            switch await perform({ $0.truncate(to: request.to, id: $1) }) {
            case .success(.truncated(let position)): return .truncateResponse(TruncateResponse(position: position))
            case .success(let other): return .error(ErrorReply(code: .internal, text: "unexpected result \(other)"))
            case .failure(let reply): return .error(reply)
            }
        case .readRequest(let request):
            return await read(request)
        case .positionsRequest:
            return await positions()
        case .leaderRequest:
            return .leaderResponse(leader())
        case .statusRequest:
            return await status()
        case .recoveryStageRequest, .recoveryUploadRequest, .recoveryPrintRequest, .recoveryDeleteRequest,
            .recoveryStatusRequest, .recoveryCommitRequest, .recoveryUnloadRequest:
            return await handleRecovery(message)
        case _ where message.isBackupRequest:
            return await backupRequest(message)
        default:
            return .error(ErrorReply(code: .invalidRequest, text: "a coordinator does not handle \(message.type)"))
        }
    }

    func newOperation() -> OperationID {
        defer { nextOperation += 1 }
        return OperationID(nextOperation)
    }

    private func perform(
        _ start: (inout Coordinator, OperationID) -> [CoordinatorDirective],
        entries: [ByteBuffer] = []
    ) async -> Result<OperationResult, ErrorReply> {
        let id = newOperation()
        return await withCheckedContinuation { continuation in
            operations[id] = continuation
            noteStart(id, entries: entries)
            carryOut(start(&coordinator, id))
        }
    }

    private func noteStart(_ id: OperationID, entries: [ByteBuffer]) {
        started[id] = (ContinuousClock.now, entries.count, entries.reduce(0) { $0 + $1.readableBytes })
    }

    private func noteEnd(_ id: OperationID, _ result: Result<OperationResult, ErrorReply>) {
        guard let start = started.removeValue(forKey: id) else { return }
        switch result {
        case .success(.appended):
            metrics.appends.increment(by: Int64(start.entries))
            metrics.appendBytes.increment(by: Int64(start.bytes))
            let elapsed = ContinuousClock.now - start.at
            metrics.appendDuration.recordNanoseconds(
                elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
            )
        case .success:
            break
        case .failure:
            metrics.failures.increment()
        }
        metrics.learnedPosition.record(Int64(clamping: coordinator.learnedThrough))
    }

    private func append(_ request: AppendRequest) async -> Message {
        guard request.token.client != 0 else {
            switch await perform({ node, id in node.append(request.entries, id: id) }, entries: request.entries) {
            case .success(.appended(let position, let count)):
                return .appendResponse(AppendResponse(position: position, count: count))
            case .success(let other): return .error(ErrorReply(code: .internal, text: "unexpected result \(other)"))
            case .failure(let reply): return .error(reply)
            }
        }
        return await withCheckedContinuation { continuation in
            startAppend(
                request,
                waiter: { continuation.resume(returning: $0 ?? .error(ErrorReply(code: .internal, text: "no answer"))) }
            )
        }
    }

    /// Starts an append with an idempotency token (or joins the one in flight with the same
    /// token); `waiter` gets the answer.
    private func startAppend(_ request: AppendRequest, waiter: @escaping RPCServer.Responder) {
        switch deduplication.begin(request.token, waiter: waiter) {
        case nil:
            let id = newOperation()
            appendTokens[id] = request.token
            noteStart(id, entries: request.entries)
            carryOut(coordinator.append(request.entries, id: id))
        case .done(let response)?:
            metrics.deduplicated.increment()
            waiter(.appendResponse(response))
        case .inFlight?:
            metrics.deduplicated.increment()  // answered with the first attempt's result
        }
    }

    // MARK: Reads from the replicas

    func read(_ request: ReadRequest) async -> Message {
        if let answer = recoveryReadAnswer(request) { return answer }
        // Replicas serve learned positions only: what was answered as appended must be learned.
        carryOut(coordinator.releaseChosen())
        let cap = recoveryReadCap ?? Position.max
        let replicas = configuration.replicas.keys.sorted()
        let last = min(request.to, request.from &+ UInt64(max(1, request.maxEntries)) - 1, cap)
        var lastError = "no replica answered"
        for offset in 0..<replicas.count {
            let replica = replicas[(readRotation + offset) % replicas.count]
            let catchup = CatchupRequest(from: request.from, to: max(last, request.from), maxBytes: request.maxBytes)
            guard let link = link(to: replica),
                case .catchupResponse(let response)? = try? await link.request(
                    .catchupRequest(catchup),
                    timeout: .seconds(5)
                )
            else {
                lastError = "replica \(replica.rawValue) did not answer"
                continue
            }
            if response.begin > request.from {
                return .error(
                    ErrorReply(
                        code: .truncated,
                        value: response.begin,
                        text: "positions below \(response.begin) were truncated; restart from \(response.begin)"
                    )
                )
            }
            // Serve the contiguous learned prefix only: a position this replica has not learned
            // may be learned elsewhere, so it must not be skipped.
            var entries: [Entry] = []
            var next = request.from
            for action in response.actions where action.position == next {
                if case .append(let bytes)? = action.value { entries.append(Entry(position: next, bytes: bytes)) }
                next += 1
            }
            if next == request.from && request.from <= response.end {
                lastError = "replica \(replica.rawValue) has not learned position \(request.from) yet"
                continue
            }
            readRotation += 1
            return .readResponse(
                ReadResponse(entries: entries, next: next, end: min(max(coordinator.learnedThrough, response.end), cap))
            )
        }
        logger.debug(
            "read found nothing new",
            metadata: ["read/from": "\(request.from)", "read/reason": "\(lastError)"]
        )
        return .readResponse(ReadResponse(entries: [], next: request.from, end: min(coordinator.learnedThrough, cap)))
    }

    func positions() async -> Message {
        for replica in configuration.replicas.keys.sorted() {
            guard let link = link(to: replica),
                case .recoverResponse(let response)? = try? await link.request(
                    .recoverRequest(RecoverRequest()),
                    timeout: .seconds(2)
                ),
                response.status == .voting, let range = response.range
            else { continue }
            return .positionsResponse(
                PositionsResponse(
                    begin: max(range.lowerBound, recoveryReadFloor),
                    end: min(max(range.upperBound, coordinator.learnedThrough), recoveryReadCap ?? Position.max)
                )
            )
        }
        return .error(ErrorReply(code: .unavailable, text: "no VOTING replica answered"))
    }

    private func status() async -> Message {
        let replicas = configuration.replicas.keys.sorted()
        var infos: [ReplicaInfo] = []
        await withTaskGroup(of: (Int, ReplicaInfo).self) { group in
            for (index, replica) in replicas.enumerated() {
                let endpoint = configuration.replicas[replica]!
                let link = link(to: replica)
                group.addTask {
                    // A replica answers a status request about itself, damage included.
                    let answer = try? await link?.request(.statusRequest, timeout: .seconds(1))
                    var info =
                        ReplicaInfo(
                            id: replica.wireName,
                            address: "\(endpoint)",
                            reachable: false,
                            status: .empty,
                            begin: 0,
                            end: 0
                        )
                    if case .statusResponse(let response)? = answer, let own = response.replicas.first {
                        info = own
                        info.id = replica.wireName
                        info.address = "\(endpoint)"
                    }
                    return (index, info)
                }
            }
            var collected: [(Int, ReplicaInfo)] = []
            for await result in group { collected.append(result) }
            infos = collected.sorted { $0.0 < $1.0 }.map(\.1)
        }
        return .statusResponse(StatusResponse(clusterID: configuration.clusterID, leader: leader(), replicas: infos))
    }

    // MARK: Directives

    func carryOut(_ directives: [CoordinatorDirective]) {
        for directive in directives {
            switch directive {
            case .send(let envelope, let to):
                send(envelope, to: to)
            case .schedule(let timer, let delay):
                schedule(after: delay) { node in await node.fire(timer) }
            case .complete(let id, let result):
                complete(id, result)
            case .leadership(let leading, let proposal):
                metrics.leading.record(leading ? 1 : 0)
                metrics.leaderChanges.increment()
                logger.notice(
                    leading ? "leading" : "not leading",
                    metadata: ["paxos/proposal": "\(proposal)"]
                )
                if leading { tookOver() }
                noteLeaderChange()
            case .assigned(let assignments, let proposal):
                announce(assignments, proposal: proposal)
            }
        }
    }

    private func complete(_ id: OperationID, _ result: Result<OperationResult, ErrorReply>) {
        if recoveryOperationCompleted(id, result) { return }
        noteEnd(id, result)
        let result = result.mapError(withLeaderHint)
        if let token = appendTokens.removeValue(forKey: id) {
            var response: AppendResponse?
            let message: Message
            switch result {
            case .success(.appended(let position, let count)):
                response = AppendResponse(position: position, count: count)
                message = .appendResponse(response!)
            case .success(let other):
                message = .error(ErrorReply(code: .internal, text: "unexpected result \(other)"))
            case .failure(let reply):
                message = .error(reply)
            }
            for waiter in deduplication.finish(token, with: response) { waiter(message) }
            return
        }
        operations.removeValue(forKey: id)?.resume(returning: result)
    }

    private func send(_ envelope: Envelope, to replica: NodeID) {
        guard let link = link(to: replica) else { return }
        switch envelope.message {
        case .learned, .learnedRange:
            Task { try? await link.send(envelope.message) }
        case .writeRequest:
            // The other coordinators hear of the positions of these appends before any replica
            // can accept them (see ``announce(_:proposal:)``).
            let id = envelope.requestID
            let announced = announcement
            Task { [weak self] in
                await announced?.value
                guard let (answer, generation) = try? await link.requestWithGeneration(envelope.message) else { return }
                await self?.deliver(Incoming(.response(answer, to: id), from: replica, session: generation))
            }
        default:
            let id = envelope.requestID
            Task { [weak self] in
                guard let (answer, generation) = try? await link.requestWithGeneration(envelope.message) else { return }
                await self?.deliver(Incoming(.response(answer, to: id), from: replica, session: generation))
            }
        }
    }

    private func deliver(_ incoming: Incoming) {
        guard !stopped else { return }
        carryOut(coordinator.receive(incoming))
        noteRejections()
    }

    private func fire(_ timer: CoordinatorTimer) {
        guard !stopped else { return }
        carryOut(coordinator.timerFired(timer))
    }

    private func link(to replica: NodeID) -> PeerLink? {
        if let link = links[replica] { return link }
        guard let endpoint = configuration.replicas[replica] else { return nil }
        let link = newLink(to: endpoint, security: configuration.security, options: configuration.connection)
        links[replica] = link
        return link
    }

    /// A link on which this coordinator introduces itself as such.
    func newLink(
        to endpoint: Endpoint,
        security: TransportSecurity,
        options: ConnectionOptions,
        backoff: Backoff = Backoff()
    ) -> PeerLink {
        PeerLink(
            host: endpoint.host,
            port: endpoint.port,
            identity: PeerIdentity(
                clusterID: configuration.clusterID,
                role: .coordinator,
                nodeID: configuration.id.wireName
            ),
            security: security,
            options: options,
            backoff: backoff,
            logger: logger
        )
    }

    func schedule(after delay: Duration, _ action: @escaping @Sendable (CoordinatorNode) async -> Void) {
        timers.schedule(after: delay, on: self, action)
    }

}

/// Why a coordinator cannot start.
public enum CoordinatorNodeError: Error, Sendable, CustomStringConvertible {
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let problem): return "invalid coordinator configuration: \(problem)"
        }
    }
}
