import Foundation
import Logging
import ReplogModel
import ReplogNet
import ReplogWire
import Testing

/// A replica whose disk damaged a record that had been durable, as real processes: it starts,
/// says so (log, metrics, its /status, the coordinator's `replog status`), refuses to serve or
/// vote on the damaged position, and heals it from its peers once it learns new positions.
@Suite(.serialized) struct DamagedReplicaTests {
    let directory: String
    let cluster = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

    init() throws {
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent("damaged-replica-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Flips a byte inside the value of a large APPEND record of the oldest segment that is the
    /// last record of its position (a later record would supersede it); returns that position.
    /// (Record layout: docs/storage.md.)
    func damageARecordOfTheOldestSegment(_ store: String) throws -> Position {
        let segments = try FileManager.default.contentsOfDirectory(atPath: store).filter { $0.hasSuffix(".segment") }
            .sorted().map { store + "/" + $0 }
        #expect(segments.count >= 2, "\(segments)")
        var last: [Position: (segment: Int, offset: Int, length: Int)] = [:]
        var contents: [[UInt8]] = []
        for (index, segment) in segments.enumerated() {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: segment)))
            contents.append(bytes)
            func u32(_ offset: Int) -> Int { (0..<4).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) } }
            func u64(_ offset: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) } }
            var offset = 32
            while offset + 16 < bytes.count, case let length = u32(offset), length > 0 {
                if bytes[offset + 4] == 1 { last[u64(offset + 8)] = (index, offset, length) }
                offset += (8 + length + 8 + 7) & ~7
            }
        }
        guard
            let (position, record) = last.filter({ $0.value.segment == 0 && $0.value.length > 65536 }).min(by: {
                $0.key < $1.key
            })
        else { throw CocoaError(.fileReadCorruptFile) }
        var bytes = contents[0]
        bytes[record.offset + 8 + 32 + 1000] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: segments[0]))
        return position
    }

    func waitFor(_ what: String, timeout: TimeInterval = 60, _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while try await !condition() {
            guard Date() < deadline else {
                Issue.record("timed out waiting for \(what)")
                throw CocoaError(.userCancelled)
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// The value of an unlabelled metric in Prometheus text, or nil when it is absent.
    func metric(_ name: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    func get(_ port: Int, _ path: String) async -> String {
        (try? await ReplogProcess.curl(URL(string: "http://127.0.0.1:\(port)\(path)")!)) ?? ""
    }

    @Test func aReplicaWithADamagedRecordInAnOlderSegmentReportsItServesItNotAndHealsIt() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ports = try (0..<3).map { _ in try freePort() }
        let adminPort = try freePort()
        let coordinatorPort = try freePort()
        let peers = (0..<3).map { "\($0 + 1)=127.0.0.1:\(ports[$0])" }.joined(separator: ",")
        func replica(_ index: Int, log: String) throws -> ReplogDaemon {
            try ReplogDaemon(
                [
                    "replica", "--path", "\(directory)/r\(index + 1)", "--listen", "127.0.0.1:\(ports[index])",
                    "--id", "\(index + 1)", "--peers", peers, "--cluster-id", cluster, "--insecure",
                    "--segment-size", "17MB",
                ] + (index == 0 ? ["--admin", "127.0.0.1:\(adminPort)"] : []),
                logPath: "\(directory)/\(log)"
            )
        }
        for index in 0..<3 {
            let initialized = try await ReplogProcess.run(["initialize", "--path", "\(directory)/r\(index + 1)"])
            #expect(initialized.status == 0, "\(initialized.stderr)")
        }
        var replicas = try (0..<3).map { try replica($0, log: "replica\($0 + 1).log") }
        let coordinator = try ReplogDaemon(
            [
                "coordinator", "--id", "101", "--listen", "127.0.0.1:\(coordinatorPort)", "--replicas", peers,
                "--cluster-id", cluster, "--insecure",
            ],
            logPath: "\(directory)/coordinator.log"
        )
        let client = ["--coordinator", "127.0.0.1:\(coordinatorPort)", "--insecure", "--timeout", "30"]
        var damaged: Position = 0
        do {
            // 18 MiB: the replicas' first 17 MB segment fills and a second one starts.
            let bench = try await ReplogProcess.run(
                ["bench", "--size", "1MB", "--count", "18", "--concurrency", "2", "--type", "one"] + client
            )
            #expect(bench.status == 0, "\(bench.stderr)\n\(coordinator.log)")
            let last = try await ReplogProcess.run(["append"] + client + ["the last entry"])
            #expect(last.status == 0, "\(last.stderr)")

            #expect(await replicas[0].stop() == 0)
            damaged = try damageARecordOfTheOldestSegment("\(directory)/r1")

            replicas[0] = try replica(0, log: "replica1-restarted.log")
            try await waitFor("the damaged replica's admin endpoint") {
                await get(adminPort, "/status").contains("\"status\":\"VOTING\"")
            }
            // Reported: log, metrics, its own /status and the coordinator's `replog status`.
            let log = replicas[0].log
            #expect(log.contains("damaged records in a segment"), "\(log)")
            #expect(log.contains("the store holds damaged records"), "\(log)")
            let status = await get(adminPort, "/status")
            #expect(status.contains("\"damaged\":[\(damaged)]"), "\(status)")
            #expect(status.contains("\"healthy\":false"), "\(status)")
            let metrics = await get(adminPort, "/metrics")
            #expect(metric("replog_storage_damaged_regions", in: metrics) == 1, "\(metrics)")
            #expect(metric("replog_replica_damaged_positions", in: metrics) == 1, "\(metrics)")
            let table = try await ReplogProcess.run(["status"] + client)
            let row = table.stdout.split(separator: "\n").first { $0.hasPrefix("1 ") }.map(String.init) ?? ""
            #expect(row.contains("DAMAGED VOTING"), "\(table.stdout)")
            #expect(row.contains("damaged position(s) not served until learned again: \(damaged)"), "\(row)")
            let json = try await ReplogProcess.run(["status", "--json"] + client)
            #expect(json.stdout.contains("\"damaged\":[\(damaged)]"), "\(json.stdout)")

            // Not served: no vote on it, no catch-up of it; its neighbours are served.
            let connection = try await RPCConnection.connect(
                host: "127.0.0.1",
                port: ports[0],
                identity: PeerIdentity(clusterID: ClusterID(cluster)!, role: .coordinator, nodeID: "102"),
                security: .plaintext
            )
            await #expect {
                _ = try await connection.request(.promiseRequest(PromiseRequest(proposal: 1 << 40, position: damaged)))
            } throws: { error in
                guard let reply = error as? ErrorReply else { return false }
                return reply.code == .corruption && reply.value == damaged
            }
            let catchup = try await connection.request(
                .catchupRequest(CatchupRequest(from: damaged, to: damaged + 1, maxBytes: 8 << 20))
            )
            guard case .catchupResponse(let response) = catchup else {
                Issue.record("catch-up answered with \(catchup)")
                throw CocoaError(.userCancelled)
            }
            #expect(response.actions.map(\.position) == [damaged + 1])
            await connection.close()
            #expect(metric("replog_replica_damage_refusals", in: await get(adminPort, "/metrics")) == 1)

            // The store is held open: an offline read says by whom.
            let held = try await ReplogProcess.run(["read", "--path", "\(directory)/r1"])
            #expect(held.status != 0)
            #expect(
                held.stderr.contains("is held open by process \(replicas[0].process.processIdentifier)"),
                "\(held.stderr)"
            )

            // A new entry makes the replica learn new positions; it fetches the damaged one from its
            // peers, and the damage is gone.
            let healing = try await ReplogProcess.run(["append"] + client + ["one more"])
            #expect(healing.status == 0, "\(healing.stderr)")
            try await waitFor("the damaged position to heal") {
                await get(adminPort, "/status").contains("\"healthy\":true")
            }
            #expect(metric("replog_replica_damaged_positions", in: await get(adminPort, "/metrics")) == 0)
        } catch {
            for daemon in replicas + [coordinator] { _ = await daemon.stop() }
            throw error
        }
        #expect(await coordinator.stop() == 0)
        for daemon in replicas { #expect(await daemon.stop() == 0) }
        // Healed on disk too: the offline read serves every position; the damaged bytes stay in the
        // old segment, reported as replaced, until truncation deletes that segment.
        let read = try await ReplogProcess.run(
            ["read", "--path", "\(directory)/r1", "--json", "--from", "\(damaged)", "--to", "\(damaged)"]
        )
        #expect(read.status == 0, "\(read.stderr)")
        #expect(!read.stdout.contains("damaged"))
        #expect(read.stdout.contains("{\"position\":\(damaged),"), "\(read.stdout.prefix(2000))")
        #expect(read.stderr.contains("replaced by later records"), "\(read.stderr)")
    }
}
