import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ReplogConsensus
import ReplogModel
import ReplogNet
import ReplogReplica
import ReplogStorage
import ReplogWire
import Testing

/// Three replica nodes on real sockets and real stores, without a coordinator.
@Suite struct ReplicaNodeTests {
    let cluster = ClusterID(high: 0xAB, low: 0xCD)

    struct Running {
        var nodes: [ReplicaNode]
        var servers: [RPCServer]
        var stores: [ReplicaStore]
        var directories: [String]
    }

    func start(prepare: (Int, ReplicaStore) async throws -> Void) async throws -> Running {
        let ids = [NodeID(1), NodeID(2), NodeID(3)]
        let boxes = ids.map { _ in NIOLockedValueBox<ReplicaNode?>(nil) }
        var servers: [RPCServer] = []
        for (index, id) in ids.enumerated() {
            let box = boxes[index]
            servers.append(
                try await RPCServer.bind(
                    host: "127.0.0.1",
                    port: 0,
                    identity: PeerIdentity(clusterID: cluster, role: .replica, nodeID: id.wireName),
                    allowedRoles: [.replica, .coordinator],
                    security: .plaintext,
                    logger: Logger(label: "replica-\(id.rawValue)")
                ) { peer, message in
                    guard let node = box.withLockedValue({ $0 }) else { return nil }
                    return await node.handler()(peer, message)
                }
            )
        }
        var endpoints: [NodeID: Endpoint] = [:]
        for (index, id) in ids.enumerated() {
            endpoints[id] = Endpoint(host: "127.0.0.1", port: servers[index].localAddress.port!)
        }
        var running = Running(nodes: [], servers: servers, stores: [], directories: [])
        for (index, id) in ids.enumerated() {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "replica-node-\(UUID().uuidString)"
            ).path
            let store = try ReplicaStore(directory: directory, options: StoreOptions(segmentSize: 32 << 20))
            try await prepare(index, store)
            var configuration = ReplicaNodeConfiguration(
                id: id,
                replicas: endpoints,
                quorum: 2,
                clusterID: cluster,
                security: .plaintext
            )
            configuration.connection.requestTimeout = .seconds(2)
            let node = try ReplicaNode(
                configuration: configuration,
                store: store,
                logger: Logger(label: "replica-\(id.rawValue)")
            )
            boxes[index].withLockedValue { $0 = node }
            running.nodes.append(node)
            running.stores.append(store)
            running.directories.append(directory)
        }
        for server in servers { Task { try await server.run() } }
        for node in running.nodes { await node.start() }
        return running
    }

    func stop(_ running: Running) async {
        for node in running.nodes { await node.stop() }
        for server in running.servers { await server.close() }
        for store in running.stores { await store.close() }
        for directory in running.directories { try? FileManager.default.removeItem(atPath: directory) }
    }

    @Test func anEmptyReplicaRecoversAndCatchesUpFromTheVotingOnes() async throws {
        let entries = 300
        let running = try await start { index, store in
            guard index < 2 else { return }  // replica 3 stays EMPTY
            try await store.persist(status: .voting)
            try await store.persist(
                actions: (1...entries).map {
                    .learned(.append(ByteBuffer(string: "entry-\($0)")), at: UInt64($0), proposal: 1)
                }
            )
        }
        let blank = running.nodes[2]
        let deadline = ContinuousClock.now + .seconds(60)
        while await blank.status != .voting, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(await blank.status == .voting)
        let store = running.stores[2]
        // Catch-up may still be finishing the last batch.
        while (try? store.action(at: UInt64(entries)))??.learned != true, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        for position in 1...entries {
            let action = try store.action(at: UInt64(position))
            #expect(action?.learned == true, "position \(position) not learned")
            #expect(action?.value == .append(ByteBuffer(string: "entry-\(position)")))
        }
        await stop(running)
    }

    @Test func refusesAnUnsafeQuorum() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "replica-node-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let endpoints = [
            NodeID(1): Endpoint("127.0.0.1:1")!, NodeID(2): Endpoint("127.0.0.1:2")!,
            NodeID(3): Endpoint("127.0.0.1:3")!,
        ]
        let configuration = ReplicaNodeConfiguration(
            id: NodeID(1),
            replicas: endpoints,
            quorum: 1,
            clusterID: cluster,
            security: .plaintext
        )
        #expect(configuration.problem?.contains("quorum 1 is not a majority of 3 replicas") == true)
        let store = try ReplicaStore(directory: directory)
        #expect(throws: ReplicaNodeError.self) {
            try ReplicaNode(configuration: configuration, store: store, logger: Logger(label: "t"))
        }
    }
}
