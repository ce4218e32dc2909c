import NIOCore
public import ReplogConsensus
public import ReplogModel
import ReplogWire

/// A fault-free cluster on virtual time with fixed latencies, for measuring what the protocol
/// costs in round trips: appends per simulated second, and how long a replica takes to recover.
public struct VirtualCluster {
    /// Fixed costs of the simulated environment.
    public struct Latency: Sendable {
        /// One-way network delay, in microseconds.
        public var networkMicroseconds: Int64
        /// Time for the store to make a persist durable, in microseconds.
        public var syncMicroseconds: Int64
        public init(networkMicroseconds: Int64 = 250, syncMicroseconds: Int64 = 100) {
            self.networkMicroseconds = networkMicroseconds
            self.syncMicroseconds = syncMicroseconds
        }
    }

    enum Event {
        case deliver(from: NodeID, to: NodeID, envelope: Envelope)
        case replicaTimer(Int, ReplicaTimer)
        case coordinatorTimer(CoordinatorTimer)
        case sync(Int)
    }

    let latency: Latency
    var queue = EventQueue<Event>()
    var now: Int64 = 0
    var stores: [MemoryStore]
    var replicas: [Replica?]
    var coordinator: Coordinator
    var syncScheduled: [Bool]
    var completed: [(OperationID, Result<OperationResult, ErrorReply>)] = []

    /// A cluster of `replicaCount` VOTING replicas, each holding `learned` learned entries, and one
    /// coordinator configured by `configure`.
    public init(
        replicaCount: Int,
        learned: Int = 0,
        latency: Latency = Latency(),
        configure: (inout CoordinatorConfiguration) -> Void = { _ in }
    ) {
        self.latency = latency
        let ids = (1...replicaCount).map { NodeID(UInt32($0)) }
        var store = MemoryStore(metadata: ReplicaMetadata(status: .voting))
        if learned > 0 {
            let actions = (1...learned).map {
                Action.learned(.append(ByteBuffer(repeating: 7, count: 100)), at: Position($0), proposal: 1)
            }
            store.persist([.actions(actions)], token: PersistToken(0))
            _ = store.sync()
        }
        stores = Array(repeating: store, count: replicaCount)
        replicas = Array(repeating: nil, count: replicaCount)
        syncScheduled = Array(repeating: false, count: replicaCount)
        var configuration = CoordinatorConfiguration(id: NodeID(100), replicas: ids, proposerID: 100)
        configure(&configuration)
        coordinator = Coordinator(configuration: configuration, seed: 1)
        for index in 0..<replicaCount { start(index, configure: { _ in }) }
    }

    /// Starts (or restarts) replica `index` on its store.
    public mutating func start(_ index: Int, configure: (inout ReplicaConfiguration) -> Void) {
        let ids = (1...stores.count).map { NodeID(UInt32($0)) }
        var configuration = ReplicaConfiguration(id: ids[index], replicas: ids, proposerID: UInt8(index + 1))
        configure(&configuration)
        var replica = Replica(configuration: configuration, seed: UInt64(index))
        let directives = replica.start(store: stores[index].visible)
        replicas[index] = replica
        perform(directives, replica: index)
    }

    /// Replaces replica `index`'s disk with an empty one and restarts it.
    public mutating func wipe(_ index: Int, configure: (inout ReplicaConfiguration) -> Void) {
        stores[index].wipe()
        start(index, configure: configure)
    }

    public func status(_ index: Int) -> ReplicaStatus? { replicas[index]?.status }

    /// Simulated time, in microseconds.
    public var microseconds: Int64 { now / 1000 }

    /// Runs a closed loop of `outstanding` clients appending `count` entries of `size` bytes in
    /// total; returns the simulated microseconds it took and how many appends failed.
    public mutating func appendLoop(count: Int, size: Int, outstanding: Int) -> (microseconds: Int64, failed: Int) {
        let start = now
        let payload = ByteBuffer(repeating: 1, count: size)
        var submitted = 0
        var done = 0
        var failed = 0
        func submit(_ cluster: inout VirtualCluster) {
            submitted += 1
            let directives = cluster.coordinator.append([payload], id: OperationID(UInt64(submitted)))
            cluster.perform(directives)
        }
        for _ in 0..<min(outstanding, count) { submit(&self) }
        while done < count, let item = queue.pop() {
            now = item.time
            handle(item.event)
            let finished = completed
            completed = []
            for (_, result) in finished {
                done += 1
                if case .failure = result { failed += 1 }
                if submitted < count { submit(&self) }
            }
        }
        return ((now - start) / 1000, failed)
    }

    /// Runs until `condition` holds or `limitMicroseconds` of simulated time pass; returns the
    /// simulated microseconds spent, or `nil` on the limit.
    public mutating func run(limitMicroseconds: Int64, until condition: (VirtualCluster) -> Bool) -> Int64? {
        let start = now
        while !condition(self) {
            guard let item = queue.pop(), item.time - start <= limitMicroseconds * 1000 else { return nil }
            now = item.time
            handle(item.event)
        }
        return (now - start) / 1000
    }

    mutating func handle(_ event: Event) {
        switch event {
        case .deliver(let from, let to, let envelope):
            let incoming = Incoming(envelope, from: from, session: 1)
            if to.rawValue >= 100 {
                perform(coordinator.receive(incoming))
            } else {
                let index = Int(to.rawValue) - 1
                guard var replica = replicas[index] else { return }
                let directives = replica.receive(incoming, store: stores[index].visible)
                replicas[index] = replica
                perform(directives, replica: index)
            }
        case .replicaTimer(let index, let timer):
            guard var replica = replicas[index] else { return }
            let directives = replica.timerFired(timer, store: stores[index].visible)
            replicas[index] = replica
            perform(directives, replica: index)
        case .coordinatorTimer(let timer):
            perform(coordinator.timerFired(timer))
        case .sync(let index):
            syncScheduled[index] = false
            guard let token = stores[index].sync(), var replica = replicas[index] else { return }
            let directives = replica.persisted(token)
            replicas[index] = replica
            perform(directives, replica: index)
        }
    }

    mutating func send(_ envelope: Envelope, from: NodeID, to: NodeID) {
        queue.push(.deliver(from: from, to: to, envelope: envelope), at: now + latency.networkMicroseconds * 1000)
    }

    mutating func perform(_ directives: [CoordinatorDirective]) {
        for directive in directives {
            switch directive {
            case .send(let envelope, let to): send(envelope, from: NodeID(100), to: to)
            case .schedule(let timer, let delay): queue.push(.coordinatorTimer(timer), at: now + delay.nanoseconds)
            case .complete(let id, let result): completed.append((id, result))
            case .leadership, .assigned: break
            }
        }
    }

    mutating func perform(_ directives: [ReplicaDirective], replica index: Int) {
        for directive in directives {
            switch directive {
            case .persist(let records, let token):
                stores[index].persist(records, token: token)
                if !syncScheduled[index] {
                    syncScheduled[index] = true
                    queue.push(.sync(index), at: now + latency.syncMicroseconds * 1000)
                }
            case .send(let envelope, let to):
                send(envelope, from: NodeID(UInt32(index + 1)), to: to)
            case .schedule(let timer, let delay):
                queue.push(.replicaTimer(index, timer), at: now + delay.nanoseconds)
            case .statusChanged, .diagnose:
                break
            }
        }
    }
}
