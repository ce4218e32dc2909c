import Foundation
import NIOCore
import ReplogClient
import Testing

/// Whole clusters of real processes with TLS on 127.0.0.1: several clients and coordinators,
/// a coordinator killed under load, a replica wiped under load.
@Suite(.serialized) struct ClusterProcessTests {
    /// Runs `body` on a started cluster and always stops every process and removes the files.
    func withCluster(
        replicas: Int = 3,
        coordinators: Int,
        _ body: (ProcessCluster) async throws -> Void
    ) async throws {
        let cluster = try ProcessCluster(replicas: replicas, coordinators: coordinators)
        defer { cluster.removeFiles() }
        do {
            try await cluster.start()
            try await body(cluster)
        } catch {
            let logs = cluster.logs()
            await cluster.stop()
            Issue.record("cluster logs:\n\(logs)")
            throw error
        }
        let unclean = await cluster.stop()
        #expect(unclean.isEmpty, "did not stop cleanly on SIGTERM: \(unclean)\n\(cluster.logs())")
    }

    /// Every entry of the log through a coordinator, by position.
    func readAll(_ cluster: ProcessCluster) async throws -> [UInt64: String] {
        let reader = try cluster.client()
        defer { Task { await reader.close() } }
        var entries: [UInt64: String] = [:]
        var previous: UInt64 = 0
        for try await entry in reader.read(from: 1) {
            #expect(entry.position > previous, "entries come in position order")
            previous = entry.position
            entries[entry.position] = String(buffer: entry.bytes)
        }
        return entries
    }

    @Test func twoCoordinatorsServeSeveralClientsAndEveryReplicaHoldsTheSameBytes() async throws {
        try await withCluster(coordinators: 2) { cluster in
            let leader = try #require(await cluster.leader())
            let follower = try #require(cluster.coordinatorIDs.first { $0 != leader })
            // The follower knows the leader: it is ready, and says whom it follows.
            try await cluster.waitUntil("the follower knows the leader", timeout: 20) {
                await cluster.coordinatorStatus(follower)?["leader"] as? Int == leader
            }
            let followerReady = await cluster.ready(adminPort: cluster.coordinatorAdminPorts[follower]!)
            #expect(followerReady?.contains("following coordinator \(leader)") == true, "\(followerReady ?? "")")

            // Several clients at once, each given both coordinators.
            let clients = try (0..<4).map { _ in try cluster.client() }
            let acknowledged = try await withThrowingTaskGroup(of: [(UInt64, String)].self) { group in
                for (index, client) in clients.enumerated() {
                    group.addTask {
                        var mine: [(UInt64, String)] = []
                        for sequence in 0..<40 {
                            let text = "e2e-\(index)-\(sequence)"
                            mine.append((try await client.append(ByteBuffer(string: text)), text))
                        }
                        return mine
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            for client in clients { await client.close() }
            // And the command line client, which may ask the follower first and be redirected.
            var commandLine: [(UInt64, String)] = []
            for index in 0..<3 {
                let append = try await ReplogProcess.run(
                    ["append", "cli-\(index)"],
                    environment: cluster.clientEnvironment
                )
                #expect(append.status == 0, "\(append.stderr)")
                commandLine.append(
                    (UInt64(append.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, "cli-\(index)")
                )
            }
            let all = acknowledged + commandLine
            #expect(Set(all.map(\.0)).count == all.count, "two appends were acknowledged at one position")

            let log = try await readAll(cluster)
            #expect(log.count == all.count)
            for (position, text) in all { #expect(log[position] == text, "position \(position)") }

            let status = try await ReplogProcess.run(["status"], environment: cluster.clientEnvironment)
            #expect(status.stdout.contains("leading coordinator: \(leader)"), "\(status.stdout)\(status.stderr)")

            // A recovery lives on one coordinator: staging is refused while the other one runs.
            let stage = try await ReplogProcess.run(
                ["recovery", "stage", "nightly-backup"],
                environment: cluster.clientEnvironment
            )
            #expect(stage.status != 0)
            #expect(stage.stderr.contains("coordinator(s) \(follower) are running"), "\(stage.stderr)")
            #expect(stage.stderr.contains("stop the other coordinators"), "\(stage.stderr)")

            // Let the last learned messages land, stop everything, and read every replica's files.
            try await Task.sleep(for: .milliseconds(500))
            let unclean = await cluster.stop()
            #expect(unclean.isEmpty, "did not stop cleanly on SIGTERM: \(unclean)")
            for id in cluster.replicaIDs {
                let stored = try await cluster.storedEntries(id)
                #expect(stored == log, "replica \(id)'s files differ from the log read through the coordinator")
            }
        }
    }

    /// What happened when the leading coordinator went down under load.
    struct Handover {
        var leader: Int
        var survivor: Int
        var downAt: ContinuousClock.Instant
        var acknowledged: [AppendLoad.Acknowledged]
    }

    /// Four clients append to two coordinators; `takeDown` stops the leader while they do. Checks
    /// that appends resume on the other coordinator, none fails, and every acknowledged one is in
    /// the log exactly once.
    func leaderGoesDownUnderLoad(
        _ cluster: ProcessCluster,
        name: String,
        takeDown: (Int) async -> Void
    ) async throws -> Handover {
        let leader = try #require(await cluster.leader())
        let survivor = try #require(cluster.coordinatorIDs.first { $0 != leader })
        try await cluster.waitUntil("the follower knows the leader", timeout: 20) {
            await cluster.coordinatorStatus(survivor)?["leader"] as? Int == leader
        }
        let clients = try (0..<4).map { _ in try cluster.client() }
        let load = AppendLoad()
        let running = load.run(clients: clients, name: name)
        try await cluster.waitUntil("appends flow", timeout: 30) { await load.acknowledged.count >= 200 }
        let downAt = ContinuousClock.now
        await takeDown(leader)
        try await cluster.waitUntil("appends resume on the other coordinator", timeout: 30) {
            await load.acknowledged.filter { $0.sent > downAt }.count >= 100
        }
        await load.stop()
        await running.value
        for client in clients { await client.close() }
        let failures = await load.failures
        #expect(failures.isEmpty, "appends failed: \(failures.prefix(5))")
        #expect(await cluster.leader() == survivor)
        let acknowledged = await load.acknowledged
        try await expectExactlyOnce(acknowledged, in: cluster)
        return Handover(leader: leader, survivor: survivor, downAt: downAt, acknowledged: acknowledged)
    }

    @Test func killingTheLeaderUnderLoadLosesAndDuplicatesNothing() async throws {
        try await withCluster(coordinators: 2) { cluster in
            let handover = try await leaderGoesDownUnderLoad(cluster, name: "fo") { leader in
                await cluster.killCoordinator(leader)
            }
            let (killedAt, acknowledged) = (handover.downAt, handover.acknowledged)
            // Writes resumed when the first append sent after the kill was acknowledged.
            let after = acknowledged.filter { $0.sent > killedAt }.map(\.at)
            let gap = try #require(after.min()) - killedAt
            // The longest time any client waited for an acknowledgement across the kill.
            var stall = Duration.zero
            for index in 0..<4 {
                let times = acknowledged.filter { $0.text.hasPrefix("fo-\(index)-") }.map(\.at).sorted()
                for (earlier, later) in zip(times, times.dropFirst()) where later > killedAt {
                    stall = max(stall, later - earlier)
                }
            }
            let carried =
                cluster.coordinators[handover.survivor]?.log.split(separator: "\n")
                .first { $0.contains("earlier appends carried over") }
                .flatMap { $0.split(separator: "failover/appends=").last.map(String.init) } ?? "0"
            print(
                "failover: writes resumed \(gap.milliseconds) ms after SIGKILL of the leading coordinator"
                    + " (longest client stall \(stall.milliseconds) ms; failover timeout \(cluster.failoverTimeout) ms;"
                    + " \(carried.prefix { $0.isNumber }) appends of the old leader known to the new one for de-duplication)"
            )
            #expect(gap < .seconds(15), "writes did not resume in time")
            let status = await cluster.coordinatorStatus(handover.survivor)
            #expect(status?["elections"] as? Int ?? 0 >= 1, "the survivor took over by an election")
            #expect(status?["leaderChanges"] as? Int ?? 0 >= 2, "it saw the old leader, and then itself")
        }
    }

    @Test func stoppingTheLeaderWithSIGTERMUnderLoadDrainsItAndTheOtherTakesOver() async throws {
        try await withCluster(coordinators: 2) { cluster in
            let handover = try await leaderGoesDownUnderLoad(cluster, name: "term") { leader in
                #expect(await cluster.coordinators[leader]?.stop() == 0, "the leader did not stop cleanly")
            }
            let log = cluster.coordinators[handover.leader]?.log ?? ""
            let drained = log.split(separator: "\n").first { $0.contains("drained") }
            #expect(drained?.contains("coordinator/unanswered=0") == true, "\(drained ?? "no drain logged")")
        }
    }

    /// Every acknowledged entry is in the log at its position, and no entry is there twice.
    func expectExactlyOnce(_ acknowledged: [AppendLoad.Acknowledged], in cluster: ProcessCluster) async throws {
        let log = try await readAll(cluster)
        for entry in acknowledged {
            #expect(log[entry.position] == entry.text, "acknowledged \(entry.text) is not at \(entry.position)")
        }
        var seen: [String: UInt64] = [:]
        for (position, text) in log.sorted(by: { $0.key < $1.key }) {
            if let first = seen[text] { Issue.record("\(text) is in the log twice: at \(first) and \(position)") }
            seen[text] = position
        }
    }

    @Test func aWipedReplicaRecoversAndCatchesUpWhileClientsKeepAppending() async throws {
        try await withCluster(coordinators: 1) { cluster in
            let clients = try (0..<2).map { _ in try cluster.client() }
            let load = AppendLoad()
            let running = load.run(clients: clients, name: "wipe")
            try await cluster.waitUntil("appends flow", timeout: 30) { await load.acknowledged.count >= 100 }

            #expect(await cluster.stopReplica(3) == 0)
            try FileManager.default.removeItem(atPath: cluster.replicaPath(3))
            let before = await load.acknowledged.count
            try await cluster.waitUntil("appends go on with two replicas", timeout: 30) {
                await load.acknowledged.count >= before + 100
            }
            try cluster.startReplica(3)
            var statuses: [String] = []
            try await cluster.waitUntil("the wiped replica is VOTING", timeout: 60) {
                let status = await cluster.replicaStatus(3)?["status"] as? String
                if let status, statuses.last != status { statuses.append(status) }
                return status == "VOTING"
            }
            let log = cluster.replicas[3]!.log
            let changes = log.split(separator: "\n").filter { $0.contains("replica status changed") }
            #expect(changes.map { $0.contains("RECOVERING") } == [true, false], "\(changes)")
            #expect(changes.last?.contains("VOTING") == true)

            let whenVoting = await load.acknowledged.count
            try await cluster.waitUntil("appends go on with the recovered replica", timeout: 30) {
                await load.acknowledged.count >= whenVoting + 100
            }
            await load.stop()
            await running.value
            for client in clients { await client.close() }
            let acknowledged = await load.acknowledged
            let failures = await load.failures
            #expect(failures.isEmpty, "appends failed: \(failures.prefix(5))")
            let last = acknowledged.map(\.position).max() ?? 0
            try await cluster.waitUntil("the recovered replica caught up", timeout: 60) {
                guard let status = await cluster.replicaStatus(3) else { return false }
                return (status["end"] as? Int ?? 0) >= Int(last) && status["lag"] as? Int == 0
            }
            let status = await cluster.replicaStatus(3)
            #expect(status?["recoveriesStarted"] as? Int == 1)
            #expect(status?["recoveriesFinished"] as? Int == 1)
            #expect(status?["catchupPositions"] as? Int ?? 0 > 0)
            let metrics = try await ReplogProcess.curl(
                URL(string: "http://127.0.0.1:\(cluster.replicaAdminPorts[3]!)/metrics")!
            )
            #expect(metrics?.contains("replog_replica_recoveries_finished 1") == true)

            try await Task.sleep(for: .milliseconds(500))
            let unclean = await cluster.stop()
            #expect(unclean.isEmpty, "did not stop cleanly on SIGTERM: \(unclean)")
            let recovered = try await cluster.storedEntries(3)
            for entry in acknowledged {
                #expect(recovered[entry.position] == entry.text, "the recovered replica lacks \(entry.text)")
            }
            #expect(recovered == (try await cluster.storedEntries(1)))
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
