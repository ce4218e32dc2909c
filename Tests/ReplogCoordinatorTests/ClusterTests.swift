import Foundation
import Logging
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import ReplogClient
import ReplogConsensus
import ReplogCoordinator
import ReplogModel
import ReplogNet
import ReplogReplica
import ReplogStorage
import ReplogWire
import Testing

/// A whole cluster in one process, on real sockets and real stores: three replica nodes, one
/// coordinator node, and clients.
final class LocalTestCluster: @unchecked Sendable {
    let cluster = ClusterID(high: 0x5EED, low: 0xC0DE)
    var replicas: [ReplicaNode] = []
    var servers: [RPCServer] = []
    var stores: [ReplicaStore] = []
    var directories: [String] = []
    var coordinator: CoordinatorNode!
    var coordinatorEndpoint: Endpoint!
    let coordinatorMetrics = TestMetrics()
    let replicaMetrics = TestMetrics()
    /// Replicas (by index) that receive requests but never answer, as if partitioned away.
    let muted = NIOLockedValueBox<Set<Int>>([])
    var replicaEndpoints: [NodeID: Endpoint] = [:]
    var coordinatorServer: RPCServer?

    /// `adjust` changes the coordinator's configuration (a backup directory, timeouts...).
    static func start(
        adjust: @Sendable (inout CoordinatorNodeConfiguration) -> Void = { _ in }
    ) async throws -> LocalTestCluster {
        let cluster = LocalTestCluster()
        try await cluster.boot(adjust: adjust)
        return cluster
    }

    func boot(adjust: (inout CoordinatorNodeConfiguration) -> Void) async throws {
        let ids = [NodeID(1), NodeID(2), NodeID(3)]
        let boxes = ids.map { _ in NIOLockedValueBox<ReplicaNode?>(nil) }
        for (index, id) in ids.enumerated() {
            let box = boxes[index]
            let muted = self.muted
            servers.append(
                try await RPCServer.bind(
                    host: "127.0.0.1",
                    port: 0,
                    identity: PeerIdentity(clusterID: cluster, role: .replica, nodeID: id.wireName),
                    allowedRoles: [.replica, .coordinator],
                    security: .plaintext,
                    logger: Logger(label: "replica")
                ) { peer, message in
                    guard let node = box.withLockedValue({ $0 }), !muted.withLockedValue({ $0.contains(index) }) else {
                        return nil
                    }
                    return await node.handler()(peer, message)
                }
            )
        }
        var endpoints: [NodeID: Endpoint] = [:]
        for (index, id) in ids.enumerated() {
            endpoints[id] = Endpoint(host: "127.0.0.1", port: servers[index].localAddress.port!)
        }
        for (index, id) in ids.enumerated() {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "cluster-\(UUID().uuidString)"
            ).path
            let store = try ReplicaStore(directory: directory, options: StoreOptions(segmentSize: 32 << 20))
            try await store.persist(status: .voting)
            let node = try ReplicaNode(
                configuration: ReplicaNodeConfiguration(
                    id: id,
                    replicas: endpoints,
                    quorum: 2,
                    clusterID: cluster,
                    security: .plaintext
                ),
                store: store,
                logger: Logger(label: "replica"),
                metricsFactory: index == 0 ? replicaMetrics : TestMetrics()
            )
            boxes[index].withLockedValue { $0 = node }
            replicas.append(node)
            stores.append(store)
            directories.append(directory)
        }
        for server in servers { Task { try await server.run() } }
        for node in replicas { await node.start() }
        replicaEndpoints = endpoints
        var configuration = CoordinatorNodeConfiguration(
            id: NodeID(101),
            advertisedAddress: "127.0.0.1:0",
            replicas: endpoints,
            quorum: 2,
            clusterID: cluster,
            security: .plaintext
        )
        adjust(&configuration)
        try await startCoordinator(configuration)
    }

    /// Starts a coordinator (again, after ``stopCoordinator()``) with `configuration`.
    func startCoordinator(_ configuration: CoordinatorNodeConfiguration) async throws {
        let node = try CoordinatorNode(
            configuration: configuration,
            logger: Logger(label: "coordinator"),
            metricsFactory: coordinatorMetrics
        )
        let server = try await RPCServer.bind(
            host: "127.0.0.1",
            port: 0,
            identity: PeerIdentity(clusterID: cluster, role: .coordinator, nodeID: "101"),
            allowedRoles: [.client, .tool],
            security: .plaintext,
            logger: Logger(label: "coordinator"),
            handler: node.handler()
        )
        servers.append(server)
        Task { try await server.run() }
        coordinatorServer = server
        coordinator = node
        coordinatorEndpoint = Endpoint(host: "127.0.0.1", port: server.localAddress.port!)
        await node.start()
    }

    /// Stops the coordinator and closes its listener; the replicas keep running.
    func stopCoordinator() async {
        await coordinator.stop()
        if let server = coordinatorServer {
            await server.close()
            servers.removeAll { $0 === server }
        }
    }

    func client() -> ReplogClient {
        ReplogClient(
            configuration: ClientConfiguration(
                coordinators: [coordinatorEndpoint],
                name: "test-client",
                security: .plaintext
            )
        )
    }

    func stop() async {
        await coordinator.stop()
        for node in replicas { await node.stop() }
        for server in servers { await server.close() }
        for store in stores { await store.close() }
        for directory in directories { try? FileManager.default.removeItem(atPath: directory) }
    }
}

@Suite struct ClusterTests {
    @Test func concurrentAppendsAreLearnedOnceEachAndReadBackInOrder() async throws {
        let cluster = try await LocalTestCluster.start()
        let clients = (0..<4).map { _ in cluster.client() }
        let acknowledged = try await withThrowingTaskGroup(of: [(Position, String)].self) { group in
            for (index, client) in clients.enumerated() {
                group.addTask {
                    var mine: [(Position, String)] = []
                    for sequence in 0..<25 {
                        let text = "client\(index)-\(sequence)"
                        mine.append((try await client.append(ByteBuffer(string: text)), text))
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(acknowledged.count == 100)
        #expect(Set(acknowledged.map(\.0)).count == 100, "two appends were acknowledged at one position")
        let reader = cluster.client()
        var read: [Position: String] = [:]
        for try await entry in reader.read(from: 1) { read[entry.position] = String(buffer: entry.bytes) }
        for (position, text) in acknowledged {
            #expect(read[position] == text, "position \(position)")
        }
        let positions = try await reader.positions()
        #expect(positions.end >= 100)
        let status = try await reader.status()
        #expect(status.replicas.count == 3)
        #expect(status.replicas.allSatisfy { $0.reachable && $0.status == .voting })
        #expect(status.leader.leaderID == "101")
        // Metrics tell the same story.
        let metrics = cluster.coordinatorMetrics
        #expect(try metrics.expectCounter("replog_coordinator_appends").totalValue == 100)
        #expect(
            try metrics.expectCounter("replog_coordinator_append_bytes").totalValue
                == Int64(acknowledged.map(\.1.utf8.count).reduce(0, +))
        )
        #expect(try metrics.expectTimer("replog_coordinator_append_duration").values.count == 100)
        #expect(try metrics.expectGauge("replog_coordinator_leading").lastValue == 1)
        #expect(try metrics.expectCounter("replog_coordinator_leader_changes").totalValue >= 1)
        #expect(try metrics.expectGauge("replog_coordinator_known_leader").lastValue == 101)
        #expect(try metrics.expectCounter("replog_coordinator_elections").totalValue >= 1)
        #expect(try cluster.replicaMetrics.expectGauge("replog_replica_status").lastValue == 3)
        #expect(try cluster.replicaMetrics.expectGauge("replog_replica_recovered").lastValue == 1)
        #expect(try cluster.replicaMetrics.expectGauge("replog_replica_end").lastValue ?? 0 >= 100)
        #expect(try cluster.replicaMetrics.expectGauge("replog_replica_lag").lastValue == 0)
        for client in clients + [reader] { await client.close() }
        await cluster.stop()
    }

    @Test func truncationHidesEarlierEntriesAndReadersAreToldWhereToRestart() async throws {
        let cluster = try await LocalTestCluster.start()
        let client = cluster.client()
        for index in 1...10 { _ = try await client.append(ByteBuffer(string: "e\(index)")) }
        _ = try await client.truncate(to: 6)
        do {
            for try await _ in client.read(from: 1) {}
            Issue.record("truncated positions were read")
        } catch ReplogClientError.truncated(let restart) {
            #expect(restart == 6)
        }
        var texts: [String] = []
        for try await entry in client.read(from: 6) { texts.append(String(buffer: entry.bytes)) }
        #expect(texts == ["e6", "e7", "e8", "e9", "e10"])
        await client.close()
        await cluster.stop()
    }

    @Test func batchesAndLargeEntriesRoundTrip() async throws {
        let cluster = try await LocalTestCluster.start()
        let client = cluster.client()
        let big = ByteBuffer(repeating: 0x42, count: 3 << 20)
        let range = try await client.append(batch: [ByteBuffer(string: "small"), big, ByteBuffer()])
        #expect(range.count == 3)
        var read: [Entry] = []
        for try await entry in client.read(from: range.lowerBound) { read.append(entry) }
        #expect(read.map(\.bytes) == [ByteBuffer(string: "small"), big, ByteBuffer()])
        await client.close()
        await cluster.stop()
    }
}
