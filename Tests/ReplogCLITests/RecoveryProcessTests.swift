import Foundation
import NIOConcurrencyHelpers
import NIOCore
import ReplogBackup
import ReplogClient
import ReplogModel
import ReplogNet
import ReplogNetTLS
import Testing

/// `replog recovery ...` and `replog backup restore` against real processes with mutual TLS:
/// three replicas and a coordinator with --backup-dir, while clients keep writing.
@Suite(.serialized) struct RecoveryProcessTests {
    /// A TLS cluster of real processes in a temporary directory; `stop()` ends every process.
    final class Cluster: @unchecked Sendable {
        let directory: String
        let cluster = "5e5e5e5e-0000-4000-8000-0000000000a7"
        var daemons: [ReplogDaemon] = []
        var coordinatorPort = 0
        var backups: String { directory + "/backups" }
        var certs: String { directory + "/certs" }

        init() throws {
            directory =
                FileManager.default.temporaryDirectory.appendingPathComponent("recovery-\(UUID().uuidString)")
                .path
            try FileManager.default.createDirectory(atPath: directory + "/backups", withIntermediateDirectories: true)
        }

        /// The environment that points the CLI at this cluster.
        var environment: [String: String] {
            [
                "REPLOG_COORDINATOR": "127.0.0.1:\(coordinatorPort)", "REPLOG_CERT": certs + "/client-operator.pem",
                "REPLOG_KEY": certs + "/client-operator.key", "REPLOG_CA": certs + "/ca.pem",
            ]
        }

        func start() async throws {
            for arguments in [
                ["certs", "create-ca", "--dir", certs],
                ["certs", "create-client", "--dir", certs, "--name", "operator"],
                [
                    "certs", "create-node", "--dir", certs, "--role", "coordinator", "--id", "101", "--host",
                    "127.0.0.1",
                ],
            ]
                + (1...3).map({
                    [
                        "certs", "create-node", "--dir", certs, "--role", "replica", "--id", "\($0)", "--host",
                        "127.0.0.1",
                    ]
                }) + (1...3).map({ ["initialize", "--path", "\(directory)/r\($0)"] })
            {
                let made = try await ReplogProcess.run(arguments)
                #expect(made.status == 0, "\(arguments): \(made.stderr)")
            }
            let ports = try (1...3).map { _ in try freePort() }
            let peers = (1...3).map { "\($0)=127.0.0.1:\(ports[$0 - 1])" }.joined(separator: ",")
            for id in 1...3 {
                daemons.append(
                    try ReplogDaemon(
                        [
                            "replica", "--path", "\(directory)/r\(id)", "--listen", "127.0.0.1:\(ports[id - 1])",
                            "--id", "\(id)", "--peers", peers, "--cluster-id", cluster,
                            "--cert", "\(certs)/replica-\(id).pem", "--key", "\(certs)/replica-\(id).key",
                            "--ca", "\(certs)/ca.pem",
                        ],
                        logPath: "\(directory)/replica-\(id).log"
                    )
                )
            }
            coordinatorPort = try freePort()
            daemons.append(
                try ReplogDaemon(
                    [
                        "coordinator", "--listen", "127.0.0.1:\(coordinatorPort)", "--id", "101", "--replicas", peers,
                        "--cluster-id", cluster, "--cert", "\(certs)/coordinator-101.pem",
                        "--key", "\(certs)/coordinator-101.key", "--ca", "\(certs)/ca.pem", "--backup-dir", backups,
                    ],
                    logPath: "\(directory)/coordinator.log"
                )
            )
        }

        func client() throws -> ReplogClient {
            var configuration = ClientConfiguration(
                coordinators: [Endpoint(host: "127.0.0.1", port: coordinatorPort)],
                name: "operator",
                security: try .mutualTLS(
                    certificatePath: certs + "/client-operator.pem",
                    keyPath: certs + "/client-operator.key",
                    caPath: certs + "/ca.pem",
                    allowedPeerRoles: [.coordinator]
                )
            )
            configuration.operationTimeout = .seconds(60)
            return ReplogClient(configuration: configuration)
        }

        func cli(_ arguments: [String]) async throws -> ReplogProcess.Result {
            try await ReplogProcess.run(arguments, environment: environment)
        }

        var logs: String { daemons.map(\.log).joined(separator: "\n---\n") }

        func stop() async {
            for daemon in daemons { _ = await daemon.stop() }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Clients that append until stopped, remembering what was acknowledged and what was refused.
    final class Writers: Sendable {
        struct Log {
            var acknowledged: [(position: Position, text: String)] = []
            var refusals = 0
            var otherErrors: [String] = []
        }
        let log = NIOLockedValueBox(Log())
        let running = NIOLockedValueBox(true)
        let tasks: [Task<Void, Never>]

        init(clients: [ReplogClient]) {
            let log = self.log
            let running = self.running
            tasks = clients.enumerated().map { index, client in
                Task {
                    var sequence = 0
                    while running.withLockedValue({ $0 }) {
                        sequence += 1
                        let text = "writer\(index)-\(sequence)"
                        do {
                            let position = try await client.append(ByteBuffer(string: text))
                            log.withLockedValue { $0.acknowledged.append((position, text)) }
                        } catch ReplogClientError.recoveryInProgress {
                            log.withLockedValue { $0.refusals += 1 }
                            try? await Task.sleep(for: .milliseconds(20))
                        } catch {
                            log.withLockedValue { $0.otherErrors.append("\(error)") }
                            try? await Task.sleep(for: .milliseconds(20))
                        }
                    }
                }
            }
        }

        func stop() async {
            running.withLockedValue { $0 = false }
            for task in tasks { await task.value }
        }
    }

    static func texts(_ client: ReplogClient, from: Position) async throws -> [(Position, String)] {
        var entries: [(Position, String)] = []
        for try await entry in client.read(from: from) { entries.append((entry.position, String(buffer: entry.bytes))) }
        return entries
    }

    static func writeBackup(
        in directory: String,
        id: String,
        cluster: ClusterID,
        ageHours: Double,
        entries: [String]
    ) throws -> String {
        let writer = try BackupFileWriter(
            directory: directory,
            header: BackupHeader(
                clusterID: cluster,
                backupID: id,
                label: "",
                createdAtMilliseconds: UInt64((Date().timeIntervalSince1970 - ageHours * 3600) * 1000),
                firstPosition: 1,
                lastPosition: UInt64(max(1, entries.count))
            )
        )
        for (index, text) in entries.enumerated() {
            try writer.append(position: Position(index + 1), bytes: ByteBuffer(string: text))
        }
        try writer.finish()
        return writer.finalPath
    }

    @Test func stagedRecoveryWhileClientsKeepWriting() async throws {
        let cluster = try Cluster()
        try await cluster.start()
        let reader = try cluster.client()
        var writers: Writers?
        do {
            // Up once an append goes through.
            let deadline = ContinuousClock.now + .seconds(60)
            var up = false
            while !up && ContinuousClock.now < deadline {
                up = (try? await reader.append(ByteBuffer(string: "hello"))) != nil
                if !up { try await Task.sleep(for: .milliseconds(200)) }
            }
            try #require(up, "the cluster did not come up:\n\(cluster.logs)")
            let clusterID = try await reader.status().clusterID
            let active = try Writers(clients: (0..<2).map { _ in try cluster.client() })
            writers = active
            while active.log.withLockedValue({ $0.acknowledged.count }) < 40 {
                try await Task.sleep(for: .milliseconds(20))
            }
            // A backup file taken online while the writers go on, copied off the cluster.
            let files = cluster.directory + "/files"
            try FileManager.default.createDirectory(atPath: files, withIntermediateDirectories: true)
            let backup = try await BackupTaker(directory: files).take(
                id: "pre-restore",
                label: "",
                clusterID: clusterID,
                from: ClientBackupSource(client: reader),
                now: UInt64(Date().timeIntervalSince1970 * 1000)
            )
            let backupFile = files + "/pre-restore.backup"
            let (backupEntries, _) = try Self.readBackup(backupFile)
            while active.log.withLockedValue({ $0.acknowledged.last?.position ?? 0 }) <= backup.header.lastPosition + 10
            {
                try await Task.sleep(for: .milliseconds(20))
            }

            try await badInputIsRefusedAndTheLogStaysAsItWas(cluster, clusterID: clusterID, backupFile: backupFile)

            let staged = try await cluster.cli(["recovery", "stage", backupFile])
            #expect(staged.status == 0, "\(staged.stderr)")
            #expect(staged.stdout.contains("staged backup pre-restore"))
            #expect(staged.stdout.contains("it survives a coordinator restart"))
            let twice = try await cluster.cli(["recovery", "stage", backupFile])
            #expect(twice.status != 0)
            #expect(twice.stderr.contains("another backup is already staged (pre-restore)"))
            // The staged copy in --backup-dir/staging/ is not one of the coordinator's backups:
            // it lists the two files of the directory itself only.
            #expect(FileManager.default.fileExists(atPath: cluster.backups + "/staging/staged.backup"))
            let listed = try await cluster.cli(["backup", "list", "--json"])
            let backups = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]]
            #expect(backups?.count == 2, "\(listed.stdout)\(listed.stderr)")

            // Print a range and by text.
            let first = backupEntries[0]
            let third = backupEntries[2]
            let printed = try await cluster.cli(["recovery", "print", "--from", "\(first.0)", "--to", "\(third.0)"])
            #expect(printed.status == 0, "\(printed.stderr)")
            #expect(printed.stdout.split(separator: "\n").count == 3)
            #expect(printed.stdout.contains("\(third.0)\t\(third.1.utf8.count) bytes\t\(third.1)"))
            let grepped = try await cluster.cli(["recovery", "print", "--grep", "writer1-", "--json"])
            #expect(grepped.status == 0, "\(grepped.stderr)")
            let writer1 = backupEntries.filter { $0.1.hasPrefix("writer1-") }
            #expect(grepped.stdout.split(separator: "\n").count == writer1.count)

            // Delete two entries; the output says what went.
            let victims = [backupEntries[5], backupEntries[9]]
            let deleted = try await cluster.cli(["recovery", "delete"] + victims.map { "\($0.0)" })
            #expect(deleted.status == 0, "\(deleted.stderr)")
            for victim in victims {
                #expect(deleted.stdout.contains("\(victim.0)\t\(victim.1.utf8.count) bytes\t\(victim.1)"))
            }
            #expect(deleted.stderr.contains("deleted 2 entries; the staged copy holds \(backupEntries.count - 2)"))

            // The live log is stable now that writes are refused: diff it against the staged copy.
            let live = try await Self.texts(reader, from: 1)
            let diff = try await cluster.cli(["recovery", "diff", "--json", "--limit", "100000"])
            #expect(diff.status == 0, "\(diff.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(diff.stdout.utf8)) as? [String: Any])
            #expect(report["liveCount"] as? Int == live.count)
            #expect(report["stagedCount"] as? Int == backupEntries.count - 2)
            #expect(report["onlyStagedCount"] as? Int == 0)
            let onlyLive = (report["onlyLive"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
            let expectedOnlyLive = Set(victims.map(\.1)).union(
                live.map(\.1).filter { !backupEntries.map(\.1).contains($0) }
            )
            #expect(Set(onlyLive) == expectedOnlyLive)
            let textDiff = try await cluster.cli(["recovery", "diff"])
            #expect(
                textDiff.stdout.contains(
                    "only in the live log (a commit discards these): \(expectedOnlyLive.count) entries"
                )
            )

            let preCommitEnd = try await reader.positions().end
            let committed = try await cluster.cli(["recovery", "commit"])
            #expect(committed.status == 0, "\(committed.stderr)\n\(cluster.logs)")
            let restored = backupEntries.filter { entry in !victims.contains { $0.0 == entry.0 } }
            #expect(committed.stdout.contains("the log now holds \(restored.count) entries"))
            let status = try await reader.recoveryStatus()
            #expect(status.state == .none && status.restartFrom > preCommitEnd + 1)

            // Writers are served again, after the restored entries; then stop them.
            let afterCommit = active.log.withLockedValue { $0.acknowledged.count }
            while active.log.withLockedValue({ $0.acknowledged.count }) < afterCommit + 5 {
                try await Task.sleep(for: .milliseconds(20))
            }
            await active.stop()
            writers = nil
            let log = active.log.withLockedValue { $0 }
            #expect(log.refusals > 0, "no write was refused while the recovery was staged")
            #expect(log.otherErrors.isEmpty, "\(log.otherErrors)")
            // Every acknowledgement is in the old log or after the restored entries: none in between.
            #expect(log.acknowledged.allSatisfy { $0.position <= preCommitEnd || $0.position > status.committedLast })
            // Nothing acknowledged up to the backup's end was lost: it is in the backup, and unless
            // deleted, in the restored log.
            let backupTexts = Dictionary(uniqueKeysWithValues: backupEntries.map { ($0.0, $0.1) })
            for ack in log.acknowledged where ack.position <= backup.header.lastPosition {
                #expect(backupTexts[ack.position] == ack.text, "acknowledged \(ack) is missing from the backup")
            }

            let now = try await Self.texts(reader, from: status.restartFrom)
            let newWrites = log.acknowledged.filter { $0.position > status.committedLast }.sorted {
                $0.position < $1.position
            }
            #expect(now.map(\.1) == restored.map(\.1) + newWrites.map(\.text))
            #expect(Array(now.prefix(restored.count).map(\.0)) == Array(status.restartFrom...status.committedLast))

            // A reader of an old position is told where to restart.
            let old = try await cluster.cli(["read", "--from", "1"])
            #expect(old.status != 0)
            #expect(old.stderr.contains("restart from position \(status.restartFrom)"), "\(old.stderr)")
            let idle = try await cluster.cli(["recovery", "unload"])
            #expect(idle.status == 0 && idle.stdout.contains("nothing was staged"))

            // Stage and commit in one command, from a backup in the coordinator's --backup-dir.
            let latest = try await BackupTaker(directory: cluster.backups).take(
                id: "latest",
                label: "",
                clusterID: clusterID,
                from: ClientBackupSource(client: reader),
                now: UInt64(Date().timeIntervalSince1970 * 1000)
            )
            let restore = try await cluster.cli(["backup", "restore", "latest"])
            #expect(restore.status == 0, "\(restore.stderr)")
            #expect(restore.stdout.contains("committed: the log now holds \(latest.entryCount) entries"))
            let again = try await reader.recoveryStatus()
            #expect(try await Self.texts(reader, from: again.restartFrom).map(\.1) == now.map(\.1))
            // The restored backup is READY again.
            let shown = try await cluster.cli(["backup", "show", "latest"])
            #expect(shown.stdout.contains(#""status":"STATUS_READY""#), "\(shown.stdout)\(shown.stderr)")
        } catch {
            Issue.record("\(error)\n\(cluster.logs)")
        }
        await writers?.stop()
        await reader.close()
        await cluster.stop()
    }

    static func readBackup(_ path: String) throws -> ([(Position, String)], BackupSummary) {
        let reader = try BackupFileReader(path: path)
        var entries: [(Position, String)] = []
        while let entry = try reader.next() { entries.append((entry.position, String(buffer: entry.bytes))) }
        return (entries, reader.summary!)
    }

    /// Bad input with nothing staged: clear errors, no stage, writes still served, nothing truncated.
    func badInputIsRefusedAndTheLogStaysAsItWas(
        _ cluster: Cluster,
        clusterID: ClusterID,
        backupFile: String
    ) async throws {
        for (arguments, expected) in [
            (["recovery", "commit"], "no backup staged"),
            (["recovery", "print"], "no backup staged"),
            (["recovery", "delete", "3"], "no backup staged"),
            (["recovery", "stage", "no-such-backup"], "no backup 'no-such-backup' in \(cluster.backups)"),
            (["backup", "restore", "no-such-backup"], "no backup 'no-such-backup'"),
        ] {
            let result = try await cluster.cli(arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
        }
        let idle = try await cluster.cli(["recovery", "unload"])
        #expect(idle.status == 0 && idle.stdout.contains("nothing was staged"), "\(idle.stderr)")

        let bytes = try Data(contentsOf: URL(fileURLWithPath: backupFile))
        let truncated = cluster.directory + "/files/truncated.backup"
        try bytes.prefix(bytes.count - 20).write(to: URL(fileURLWithPath: truncated))
        // A bit of an entry's bytes: only the SHA-256 can notice.
        var flipped = bytes
        flipped[bytes.range(of: Data("writer".utf8))!.lowerBound + 2] ^= 0x04
        let damaged = cluster.directory + "/files/flipped.backup"
        try flipped.write(to: URL(fileURLWithPath: damaged))
        // The same damage in the coordinator's backup directory is found there.
        try flipped.write(to: URL(fileURLWithPath: cluster.backups + "/flipped-on-server.backup"))
        let foreign = try Self.writeBackup(
            in: cluster.directory + "/files",
            id: "foreign",
            cluster: ClusterID(high: 1, low: 2),
            ageHours: 0,
            entries: ["x"]
        )
        let stale = try Self.writeBackup(
            in: cluster.backups,
            id: "stale-one",
            cluster: clusterID,
            ageHours: 7,
            entries: ["old"]
        )
        for (arguments, expected) in [
            (["recovery", "stage", truncated], "is truncated"),
            (["recovery", "stage", damaged], "failed its SHA-256 check"),
            (["recovery", "stage", "flipped-on-server"], "failed its SHA-256 check"),
            (["recovery", "stage", foreign], "pass --allow-foreign-cluster"),
            (["recovery", "stage", "stale-one"], "the backup is 7h 0m old"),
            (["backup", "restore", "stale-one"], "pass --accept-stale"),
        ] {
            let result = try await cluster.cli(arguments)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
        }
        #expect(stale.hasSuffix("stale-one.backup"))
        let status = try await cluster.cli(["recovery", "status", "--json"])
        #expect(status.stdout.contains(#""state":"NONE""#), "\(status.stdout)\(status.stderr)")
        let append = try await cluster.cli(["append", "still-writable"])
        #expect(append.status == 0, "\(append.stderr)")
        let read = try await cluster.cli(["read", "--from", "1", "--to", "1"])
        #expect(read.stdout.contains("1\thello"), "\(read.stderr)")
    }
}
