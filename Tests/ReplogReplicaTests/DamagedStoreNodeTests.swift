import Foundation
import Logging
import MetricsTestKit
import NIOCore
import ReplogConsensus
import ReplogModel
import ReplogNet
import ReplogReplica
import ReplogStorage
import ReplogWire
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A replica node on a store that recovery found damaged, or whose disk fails: what it answers
/// and what it reports.
@Suite struct DamagedStoreNodeTests {
    let cluster = ClusterID(high: 0xAB, low: 0xCD)
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("damaged-node-\(UUID().uuidString)")
        .path
    let peer = ConnectedPeer(
        identity: PeerIdentity(clusterID: ClusterID(high: 0xAB, low: 0xCD), role: .coordinator, nodeID: "101"),
        version: 1,
        maxFrameSize: WireLimits.maxFrameSize,
        address: "test"
    )

    func node(_ store: ReplicaStore, metrics: TestMetrics) throws -> ReplicaNode {
        let endpoints = [
            NodeID(1): Endpoint("127.0.0.1:1")!, NodeID(2): Endpoint("127.0.0.1:2")!,
            NodeID(3): Endpoint("127.0.0.1:3")!,
        ]
        let configuration = ReplicaNodeConfiguration(
            id: NodeID(1),
            replicas: endpoints,
            quorum: 2,
            clusterID: cluster,
            security: .plaintext
        )
        return try ReplicaNode(
            configuration: configuration,
            store: store,
            logger: Logger(label: "t"),
            metricsFactory: metrics
        )
    }

    var options: StoreOptions { StoreOptions(segmentSize: ReplicaNode.smallestSegmentSize) }

    /// A VOTING store with unlearned values at positions 1...4 (each its own batch), promised 5.
    func makeStore() async throws {
        let store = try ReplicaStore(directory: directory, options: options)
        try await store.persist(status: .voting)
        try await store.persist(promise: 5)
        for position in Position(1)...4 {
            try await store.persist(actions: [
                Action(
                    position: position,
                    promised: 5,
                    performed: 5,
                    learned: false,
                    value: .append(ByteBuffer(string: "v\(position)"))
                )
            ])
        }
        await store.close()
    }

    /// Flips a byte of the record of `position` in the first segment: in its position field when
    /// `hidingPosition`, else in its promised proposal.
    func damage(_ position: Position, hidingPosition: Bool = false) throws {
        let segment = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".segment") }
            .sorted()[0]
        let url = URL(fileURLWithPath: directory + "/" + segment)
        var bytes = [UInt8](try Data(contentsOf: url))
        func u32(_ offset: Int) -> Int { (0..<4).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) } }
        func u64(_ offset: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) } }
        var offset = 32
        while u32(offset) > 0 {
            if bytes[offset + 4] == 1 && u64(offset + 8) == position {
                if hidingPosition {
                    bytes[offset + 3] = 0x7F  // a length of about 2 GB: the record cannot say what it held
                } else {
                    bytes[offset + 16] ^= 0x01
                }
                try Data(bytes).write(to: url)
                return
            }
            offset += (8 + u32(offset) + 8 + 7) & ~7
        }
        Issue.record("no record of position \(position)")
    }

    func reply(_ node: ReplicaNode, _ message: Message) async -> Message? {
        await node.handler()(peer, message)
    }

    @Test func damagedPositionsGetNoVoteAreReportedAndHealWhenLearned() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await makeStore()
        try damage(2)
        var quarantine = options
        quarantine.corruptionPolicy = .quarantine
        let store = try ReplicaStore(directory: directory, options: quarantine)
        #expect(store.damagedPositions == [2])
        let metrics = TestMetrics()
        let node = try node(store, metrics: metrics)
        await node.start()

        guard case .error(let refusal)? = await reply(node, .promiseRequest(PromiseRequest(proposal: 9, position: 2)))
        else {
            Issue.record("a promise for a damaged position was not refused")
            return
        }
        #expect(refusal.code == .corruption && refusal.value == 2)
        let write = WriteRequest(proposal: 9, position: 1, values: [.nop(tombstone: false), .nop(tombstone: false)])
        guard case .error(let writeRefusal)? = await reply(node, .writeRequest(write)) else {
            Issue.record("a write over a damaged position was not refused")
            return
        }
        #expect(writeRefusal.code == .corruption && writeRefusal.value == 2)
        // Undamaged positions, and the implicit promise (the damage lies below the end), still vote.
        guard
            case .promiseResponse(let explicit)? = await reply(
                node,
                .promiseRequest(PromiseRequest(proposal: 9, position: 3))
            )
        else {
            Issue.record("no promise for position 3")
            return
        }
        #expect(explicit.result == .accept)
        guard case .promiseResponse(let implicit)? = await reply(node, .promiseRequest(PromiseRequest(proposal: 10)))
        else {
            Issue.record("no implicit promise")
            return
        }
        #expect(implicit.result == .accept && implicit.position == 4)
        #expect(try metrics.expectCounter("replog_replica_damage_refusals").totalValue == 2)
        #expect(try metrics.expectGauge("replog_replica_damaged_positions").lastValue == 1)

        guard case .statusResponse(let status)? = await reply(node, .statusRequest) else {
            Issue.record("no status")
            return
        }
        #expect(status.replicas.first?.damaged == [2])
        #expect(status.replicas.first?.problem.contains("1 damaged position(s) not served") == true)

        // A learned value (a chosen one, from a peer or a coordinator's fill) heals the position.
        let learned = WriteRequest(
            proposal: 10,
            position: 2,
            learned: true,
            values: [.append(ByteBuffer(string: "v2"))]
        )
        guard case .writeResponse(let healed)? = await reply(node, .writeRequest(learned)) else {
            Issue.record("the learned write was not answered")
            return
        }
        #expect(healed.result == .accept)
        #expect(await node.health.isHealthy)
        #expect(try store.action(at: 2)?.value == .append(ByteBuffer(string: "v2")))
        await node.stop()
        await store.close()
    }

    @Test func damageOfUnknownPositionStopsEveryVote() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await makeStore()
        try damage(2, hidingPosition: true)
        var quarantine = options
        quarantine.corruptionPolicy = .quarantine
        let store = try ReplicaStore(directory: directory, options: quarantine)
        #expect(store.damageOfUnknownPosition.count == 1)
        let node = try node(store, metrics: TestMetrics())
        await node.start()
        for request in [PromiseRequest(proposal: 9), PromiseRequest(proposal: 9, position: 4)] {
            guard case .error(let refusal)? = await reply(node, .promiseRequest(request)) else {
                Issue.record("\(request) was not refused")
                continue
            }
            #expect(refusal.code == .corruption && refusal.text.contains("re-create it"))
        }
        #expect(await node.health.problem.contains("damage at unknown positions, not voting"))
        await node.stop()
        await store.close()
    }

    @Test func aStoreThatFailsAnFsyncStopsTheReplicaWhichSaysWhy() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await makeStore()
        var failing = options
        failing.failpoint = { call in
            if case .sync(let path) = call, path.hasSuffix(".segment") { return StorageFault(errno: EIO) }
            return nil
        }
        let store = try ReplicaStore(directory: directory, options: failing)
        let metrics = TestMetrics()
        let node = try node(store, metrics: metrics)
        await node.start()
        // The promise cannot be made durable: it is never answered.
        #expect(await reply(node, .promiseRequest(PromiseRequest(proposal: 9, position: 3))) == nil)
        #expect(await node.health.storageFailure?.contains("Input/output error") == true)
        #expect(try metrics.expectGauge("replog_replica_storage_failed").lastValue == 1)
        guard case .error(let stopped)? = await reply(node, .promiseRequest(PromiseRequest(proposal: 9, position: 4)))
        else {
            Issue.record("a replica with a failed store answered")
            return
        }
        #expect(stopped.code == .unavailable)
        guard case .statusResponse(let status)? = await reply(node, .statusRequest) else {
            Issue.record("no status")
            return
        }
        #expect(status.replicas.first?.problem.hasPrefix("storage failed, restart the replica") == true)
        await node.stop()
        await store.close()
    }
}
