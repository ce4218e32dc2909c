import NIOCore
import ReplogConsensus
public import ReplogModel
import ReplogWire

/// Collects trace lines; a reference so that logging does not need exclusive access to the run.
final class TraceBuffer {
    var lines: [String] = []
    var counts: [String: Int] = [:]
}

/// The outcome of one simulated run.
public struct SimulationResult: Sendable {
    public var options: SimulationOptions
    public var violations: [String]
    public var trace: [String]
    public var acknowledgedAppends: Int
    public var learnedPositions: Position
    public var events: Int
    public var simulatedMilliseconds: Int64
    /// How often each kind of fault and notable transition happened (crashes, wipes, elections...).
    public var counts: [String: Int]

    public var passed: Bool { violations.isEmpty }

    /// The one-line command that replays this run.
    public var replayCommand: String {
        "REPLOG_SIM_SEED=\(options.seed) swift test --filter Simulation"
    }
}

/// A deterministic simulation of a whole cluster: replicas with in-memory stores, coordinators,
/// clients, and a network that delays, drops, duplicates, reorders and partitions messages, while
/// processes crash (losing what was not durable), disks are wiped and clocks jump. Everything
/// random comes from the seed, so a run replays exactly.
public struct Simulator {
    enum Event {
        case deliver(from: NodeID, to: NodeID, session: UInt64, toIncarnation: UInt64, envelope: Envelope)
        case replicaTimer(Int, ReplicaTimer, incarnation: UInt64)
        case coordinatorTimer(Int, CoordinatorTimer, incarnation: UInt64)
        case sync(Int, incarnation: UInt64)
        case restartReplica(Int)
        case restartCoordinator(Int)
        case fault
        case heal
        case clientOperation(Int)
        case marker
    }

    struct ReplicaNode {
        var id: NodeID
        var store: MemoryStore
        var replica: Replica?
        var incarnation: UInt64 = 1
        var syncScheduled = false
        var wiped = false
    }

    struct CoordinatorNode {
        var id: NodeID
        var coordinator: Coordinator?
        var incarnation: UInt64 = 1
    }

    enum Operation {
        case append(client: Int, payloads: [String])
        case truncate(client: Int, target: Position)
        case marker
    }

    public let options: SimulationOptions
    var random: SimRandom
    var queue = EventQueue<Event>()
    var now: Int64 = 0
    var replicas: [ReplicaNode] = []
    var coordinators: [CoordinatorNode] = []
    var checker = InvariantChecker()
    let traceBuffer = TraceBuffer()
    var events = 0
    var operations: [UInt64: Operation] = [:]
    var nextOperation: UInt64 = 1
    var clientSequence: [Int] = []
    var highestAcknowledged: Position = 0
    var lastMarker: Position = 0
    var faultsActive = true
    // Network conditions.
    var dropRate = 0.0
    var duplicateRate = 0.0
    var slowRate = 0.0
    var partition: [Int: Int] = [:]  // node raw id -> side; nodes on different sides cannot talk

    public init(options: SimulationOptions) {
        self.options = options
        self.random = SimRandom(seed: options.seed ^ 0x5EED_CAFE_F00D_D00D)
        let ids = (1...options.replicas).map { NodeID(UInt32($0)) }
        for id in ids {
            let status: ReplicaStatus = options.autoInitialize ? .empty : .voting
            replicas.append(ReplicaNode(id: id, store: MemoryStore(metadata: ReplicaMetadata(status: status))))
        }
        for index in 0..<options.coordinators {
            coordinators.append(CoordinatorNode(id: NodeID(UInt32(101 + index))))
        }
        clientSequence = Array(repeating: 0, count: options.clients)
    }

    /// Runs the simulation to the end and reports what it found.
    public static func run(_ options: SimulationOptions) -> SimulationResult {
        var simulator = Simulator(options: options)
        return simulator.run()
    }

    mutating func run() -> SimulationResult {
        for index in replicas.indices { startReplica(index) }
        for index in coordinators.indices { startCoordinator(index) }
        queue.push(.fault, at: random.exponential(mean: options.meanFaultInterval) * 1_000_000)
        for client in 0..<options.clients {
            queue.push(
                .clientOperation(client),
                at: random.exponential(mean: options.meanOperationInterval) * 1_000_000
            )
        }
        let faultEnd = options.faultMilliseconds * 1_000_000
        let deadline = faultEnd + options.livenessMilliseconds * 1_000_000
        var healed = false
        var converged = false
        while let item = queue.pop() {
            if item.time > deadline { break }
            now = item.time
            if !healed, now >= faultEnd {
                healed = true
                stopFaults()
            }
            events += 1
            handle(item.event)
            if !checker.violations.isEmpty { break }
            if healed, lastMarker > 0, isConverged() {
                converged = true
                break
            }
        }
        if checker.violations.isEmpty {
            if !converged {
                checker.fail(
                    "liveness: the cluster did not converge within \(options.livenessMilliseconds) ms after faults "
                        + "stopped: " + replicas.map { describe($0) }.joined(separator: "; ") + "; "
                        + coordinators.map { describe($0) }.joined(separator: "; ")
                )
            } else {
                for node in replicas { checker.finalLog(node.id.description, image: node.store.visible) }
            }
        }
        return SimulationResult(
            options: options,
            violations: checker.violations,
            trace: traceBuffer.lines,
            acknowledgedAppends: checker.acknowledged.count,
            learnedPositions: lastMarker,
            events: events,
            simulatedMilliseconds: now / 1_000_000,
            counts: traceBuffer.counts
        )
    }

    func describe(_ node: ReplicaNode) -> String {
        guard let replica = node.replica else { return "\(node.id) down" }
        return "\(replica), begin \(node.store.visible.begin), end \(node.store.visible.end)"
    }

    func describe(_ node: CoordinatorNode) -> String {
        guard let coordinator = node.coordinator else { return "\(node.id) down" }
        return "\(node.id) \(coordinator.phase) proposal \(coordinator.proposal) learned through "
            + "\(coordinator.learnedThrough), \(coordinator.outstandingOperations) operations outstanding"
    }

    func isConverged() -> Bool {
        lastMarker > 0
            && replicas.allSatisfy { node in
                guard let replica = node.replica, replica.status == .voting else { return false }
                return replica.learnedThrough >= max(lastMarker, highestAcknowledged) && node.store.pendingCount == 0
            }
    }

    func count(_ name: String) {
        traceBuffer.counts[name, default: 0] += 1
    }

    func log(_ text: @autoclosure () -> String) {
        guard options.trace else { return }
        traceBuffer.lines.append("\(now / 1_000_000).\(String(now / 1000 % 1000).leftPadded(3)) \(text())")
    }

    // MARK: Processes

    mutating func startReplica(_ index: Int) {
        var configuration = ReplicaConfiguration(
            id: replicas[index].id,
            replicas: replicas.map(\.id),
            proposerID: UInt8(index + 1)
        )
        configuration.autoInitialize = options.autoInitialize
        configuration.recoveryRoundTimeout = .seconds(2)
        configuration.recoveryRetry = .milliseconds(100) ... .milliseconds(300)
        configuration.catchupBatch = 8
        configuration.catchupTimeout = .milliseconds(300)
        configuration.gapDelay = .milliseconds(100)
        var replica = Replica(configuration: configuration, seed: random.next())
        let directives = replica.start(store: replicas[index].store.visible)
        replicas[index].replica = replica
        log("\(replicas[index].id) starts \(replica.status) (incarnation \(replicas[index].incarnation))")
        perform(directives, replica: index)
    }

    mutating func startCoordinator(_ index: Int) {
        var configuration = CoordinatorConfiguration(
            id: coordinators[index].id,
            replicas: replicas.map(\.id),
            proposerID: UInt8(100 + index)
        )
        configuration.tick = .milliseconds(50)
        configuration.electionTimeout = .milliseconds(500)
        configuration.writeRetry = .milliseconds(150)
        configuration.operationTimeout = .seconds(3)
        configuration.backoffBase = .milliseconds(50)
        configuration.maxBatchEntries = 4
        configuration.maxInFlightBatches = 4
        coordinators[index].coordinator = Coordinator(configuration: configuration, seed: random.next())
        log("\(coordinators[index].id) starts")
    }

    mutating func perform(_ directives: [ReplicaDirective], replica index: Int) {
        for directive in directives {
            switch directive {
            case .persist(let records, let token):
                let name = replicas[index].id.description
                var checker = self.checker
                replicas[index].store.persist(records, token: token) { checker.replicaLearned(name, $0) }
                checker.replicaBegin(name, replicas[index].store.visible.begin)
                self.checker = checker
                if !replicas[index].syncScheduled {
                    replicas[index].syncScheduled = true
                    queue.push(
                        .sync(index, incarnation: replicas[index].incarnation),
                        at: now + random.int(in: 100_000...10_000_000)
                    )
                }
            case .send(let envelope, let to):
                send(envelope, from: replicas[index].id, session: replicas[index].incarnation, to: to)
            case .schedule(let timer, let delay):
                queue.push(
                    .replicaTimer(index, timer, incarnation: replicas[index].incarnation),
                    at: now + delay.nanoseconds
                )
            case .statusChanged(let status):
                count("replica became \(status)")
                log("\(replicas[index].id) becomes \(status)")
            case .diagnose(let text):
                count("recovery diagnosis")
                log("\(replicas[index].id) diagnosis: \(text)")
            }
        }
    }

    mutating func perform(_ directives: [CoordinatorDirective], coordinator index: Int) {
        for directive in directives {
            switch directive {
            case .send(let envelope, let to):
                send(envelope, from: coordinators[index].id, session: coordinators[index].incarnation, to: to)
            case .schedule(let timer, let delay):
                queue.push(
                    .coordinatorTimer(index, timer, incarnation: coordinators[index].incarnation),
                    at: now + delay.nanoseconds
                )
            case .assigned:
                break
            case .leadership(let leading, let proposal):
                if leading { count("election won") }
                log("\(coordinators[index].id) \(leading ? "leads" : "stops leading") with proposal \(proposal)")
            case .complete(let id, let result):
                complete(id, result, coordinator: index)
            }
        }
    }

    mutating func complete(_ id: OperationID, _ result: Result<OperationResult, ErrorReply>, coordinator index: Int) {
        guard let operation = operations.removeValue(forKey: id.rawValue) else { return }
        switch (operation, result) {
        case (.append(_, let payloads), .success(.appended(let position, let count))):
            if count != payloads.count {
                checker.fail("append of \(payloads.count) entries acknowledged with \(count)")
            }
            for (offset, payload) in payloads.enumerated() {
                checker.appendAcknowledged(.append(ByteBuffer(string: payload)), at: position + Position(offset))
            }
            highestAcknowledged = max(highestAcknowledged, position + Position(count) - 1)
            log("\(coordinators[index].id) acknowledged \(payloads) at \(position)")
        case (.marker, .success(.appended(let position, _))):
            checker.appendAcknowledged(.append(ByteBuffer(string: "marker-\(id.rawValue)")), at: position)
            highestAcknowledged = max(highestAcknowledged, position)
            lastMarker = max(lastMarker, position)
            log("\(coordinators[index].id) acknowledged marker at \(position)")
        case (.truncate(_, let target), .success(.truncated(let position))):
            log("\(coordinators[index].id) truncated to \(target) at \(position)")
        case (_, .failure(let error)):
            log("\(coordinators[index].id) failed \(id): \(error)")
        default:
            checker.fail("\(id) completed with a result of the wrong kind: \(result)")
        }
    }

    // MARK: Network

    func side(_ id: NodeID) -> Int { partition[Int(id.rawValue)] ?? 0 }

    mutating func send(_ envelope: Envelope, from: NodeID, session: UInt64, to: NodeID) {
        if to == from {
            return
        }
        guard side(from) == side(to), !random.chance(dropRate) else {
            log("drop \(envelope.message.type) \(from)->\(to)")
            return
        }
        let toIncarnation: UInt64
        if to.rawValue > 100 {
            toIncarnation = coordinators[Int(to.rawValue) - 101].incarnation
        } else {
            toIncarnation = replicas[Int(to.rawValue) - 1].incarnation
        }
        let copies = random.chance(duplicateRate) ? 2 : 1
        for _ in 0..<copies {
            var delay = random.int(in: 200_000...5_000_000)
            if random.chance(slowRate) { delay += random.int(in: 10_000_000...300_000_000) }
            queue.push(
                .deliver(from: from, to: to, session: session, toIncarnation: toIncarnation, envelope: envelope),
                at: now + delay
            )
        }
    }

    // MARK: Events

    mutating func handle(_ event: Event) {
        switch event {
        case .deliver(let from, let to, let session, let toIncarnation, let envelope):
            // A connection does not outlive either end: a restarted process never sees old traffic.
            guard side(from) == side(to) else { return }
            switch envelope.message {
            case .catchupRequest(let request):
                log("\(from)->\(to) catch-up \(request.from)...\(request.to) #\(envelope.requestID)")
            case .catchupResponse(let response):
                log(
                    "\(from)->\(to) catch-up answer #\(envelope.requestID) begin \(response.begin) "
                        + "next \(response.next) \(response.actions.count) actions"
                )
            case .promiseRequest(let request):
                log("\(from)->\(to) promise \(request.proposal) at \(request.position.map(String.init) ?? "all")")
            case .promiseResponse(let response):
                let action = response.action.map { "performed \($0.performed ?? 0) learned \($0.learned)" } ?? ""
                log(
                    "\(from)(s\(session))->\(to) promise \(response.result) \(response.proposal) "
                        + "at \(response.position) \(action)"
                )
            case .writeRequest(let request):
                log("\(from)->\(to) write \(request.proposal) at \(request.position) x\(request.values.count)")
            case .writeResponse(let response):
                log("\(from)(s\(session))->\(to) write \(response.result) \(response.proposal) at \(response.position)")
            case .learnedRange(let range):
                log("\(from)->\(to) learned range \(range.proposal) at \(range.position) x\(range.count)")
            case .learned(let learned):
                log(
                    "\(from)->\(to) learned \(learned.actions.map { "\($0.position)=\(String(describing: $0.value))" })"
                )
            default:
                break
            }
            let incoming = Incoming(envelope, from: from, session: session)
            if to.rawValue > 100 {
                let index = Int(to.rawValue) - 101
                guard coordinators[index].incarnation == toIncarnation,
                    var coordinator = coordinators[index].coordinator
                else { return }
                let directives = coordinator.receive(incoming)
                coordinators[index].coordinator = coordinator
                perform(directives, coordinator: index)
            } else {
                let index = Int(to.rawValue) - 1
                guard replicas[index].incarnation == toIncarnation, var replica = replicas[index].replica else {
                    return
                }
                let directives = replica.receive(incoming, store: replicas[index].store.visible)
                replicas[index].replica = replica
                perform(directives, replica: index)
            }
        case .replicaTimer(let index, let timer, let incarnation):
            guard replicas[index].incarnation == incarnation, var replica = replicas[index].replica else { return }
            let directives = replica.timerFired(timer, store: replicas[index].store.visible)
            replicas[index].replica = replica
            perform(directives, replica: index)
        case .coordinatorTimer(let index, let timer, let incarnation):
            guard coordinators[index].incarnation == incarnation, var coordinator = coordinators[index].coordinator
            else { return }
            let directives = coordinator.timerFired(timer)
            coordinators[index].coordinator = coordinator
            perform(directives, coordinator: index)
        case .sync(let index, let incarnation):
            guard replicas[index].incarnation == incarnation else { return }
            replicas[index].syncScheduled = false
            guard let token = replicas[index].store.sync(), var replica = replicas[index].replica else { return }
            let directives = replica.persisted(token)
            replicas[index].replica = replica
            perform(directives, replica: index)
        case .restartReplica(let index):
            guard replicas[index].replica == nil else { return }
            startReplica(index)
        case .restartCoordinator(let index):
            guard coordinators[index].coordinator == nil else { return }
            startCoordinator(index)
        case .fault:
            guard faultsActive else { return }
            injectFault()
            queue.push(.fault, at: now + random.exponential(mean: options.meanFaultInterval) * 1_000_000)
        case .heal:
            guard !partition.isEmpty else { return }
            partition = [:]
            log("partition healed")
        case .clientOperation(let client):
            guard faultsActive else { return }
            submitClientOperation(client)
            queue.push(
                .clientOperation(client),
                at: now + random.exponential(mean: options.meanOperationInterval) * 1_000_000
            )
        case .marker:
            let id = nextOperation
            nextOperation += 1
            operations[id] = .marker
            let index = random.below(coordinators.count)
            if var coordinator = coordinators[index].coordinator {
                let directives = coordinator.append([ByteBuffer(string: "marker-\(id)")], id: OperationID(id))
                coordinators[index].coordinator = coordinator
                perform(directives, coordinator: index)
            }
            if !isConverged() { queue.push(.marker, at: now + 1_500_000_000) }
        }
    }

    mutating func submitClientOperation(_ client: Int) {
        let id = nextOperation
        nextOperation += 1
        let index = random.below(coordinators.count)
        guard var coordinator = coordinators[index].coordinator else { return }
        let directives: [CoordinatorDirective]
        if highestAcknowledged > 4, random.chance(0.05) {
            let target = Position(random.int(in: 1...Int64(highestAcknowledged - 2)))
            operations[id] = .truncate(client: client, target: target)
            checker.truncateRequested(target)
            directives = coordinator.truncate(to: target, id: OperationID(id))
        } else {
            var payloads: [String] = []
            for _ in 0...random.below(3) {
                clientSequence[client] += 1
                payloads.append("c\(client)-\(clientSequence[client])")
            }
            operations[id] = .append(client: client, payloads: payloads)
            directives = coordinator.append(payloads.map { ByteBuffer(string: $0) }, id: OperationID(id))
        }
        coordinators[index].coordinator = coordinator
        perform(directives, coordinator: index)
    }

    // MARK: Faults

    mutating func injectFault() {
        switch random.below(10) {
        case 0, 1:
            let index = random.below(replicas.count)
            crashReplica(index, wipe: false)
        case 2:
            // Only one disk lost at a time, and only while every other replica votes: losing more
            // is losing a quorum's memory, which no protocol survives.
            let index = random.below(replicas.count)
            let othersVoting = replicas.indices.allSatisfy { other in
                other == index || (replicas[other].replica?.status == .voting)
            }
            if othersVoting, !replicas.contains(where: \.wiped) || replicas[index].wiped {
                crashReplica(index, wipe: true)
            }
        case 3:
            let index = random.below(coordinators.count)
            guard coordinators[index].coordinator != nil else { return }
            coordinators[index].coordinator = nil
            coordinators[index].incarnation += 1
            count("coordinator crash")
            log("\(coordinators[index].id) crashes")
            queue.push(.restartCoordinator(index), at: now + random.int(in: 50_000_000...1_000_000_000))
        case 4:
            var sides: [Int: Int] = [:]
            for node in replicas { sides[Int(node.id.rawValue)] = random.below(2) }
            for node in coordinators { sides[Int(node.id.rawValue)] = random.below(2) }
            partition = sides
            count("partition")
            log("partition \(sides.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " "))")
            queue.push(.heal, at: now + random.int(in: 100_000_000...1_500_000_000))
        case 5:
            dropRate = random.chance(0.5) ? 0 : Double(random.below(25)) / 100
            duplicateRate = Double(random.below(15)) / 100
            slowRate = Double(random.below(10)) / 100
            log("network drop \(dropRate) duplicate \(duplicateRate) slow \(slowRate)")
        case 6:
            // A clock jump: every timer of one process due within the jump fires now.
            let jump = random.int(in: 100_000_000...3_000_000_000)
            count("clock jump")
            let target = random.below(replicas.count + coordinators.count)
            log("clock of process #\(target) jumps \(jump / 1_000_000) ms")
            queue.advance(
                where: { event in
                    switch event {
                    case .replicaTimer(let index, _, _): return index == target
                    case .coordinatorTimer(let index, _, _): return index + self.replicas.count == target
                    default: return false
                    }
                },
                dueBefore: now + jump,
                to: now
            )
        default:
            break
        }
    }

    mutating func crashReplica(_ index: Int, wipe: Bool) {
        guard replicas[index].replica != nil else { return }
        let unsynced = replicas[index].store.pendingCount
        let kept = random.below(unsynced + 1)
        replicas[index].store.crash(keeping: kept)
        if wipe {
            replicas[index].store.wipe()
            replicas[index].wiped = true
        }
        replicas[index].replica = nil
        replicas[index].incarnation += 1
        replicas[index].syncScheduled = false
        count(wipe ? "replica disk wiped" : "replica crash")
        if kept > 0 { count("torn write kept unsynced batches") }
        if kept < unsynced { count("crash lost unsynced batches") }
        log("\(replicas[index].id) crashes\(wipe ? " and loses its disk" : "") (kept \(kept) unsynced batches)")
        queue.push(.restartReplica(index), at: now + random.int(in: 50_000_000...1_500_000_000))
    }

    mutating func stopFaults() {
        faultsActive = false
        dropRate = 0
        duplicateRate = 0
        slowRate = 0
        partition = [:]
        log("faults stop")
        for index in replicas.indices where replicas[index].replica == nil { startReplica(index) }
        for index in coordinators.indices where coordinators[index].coordinator == nil { startCoordinator(index) }
        queue.push(.marker, at: now + 200_000_000)
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
