import Foundation
import Testing

/// Backups on a cluster of real processes with mutual TLS: the schedule and its retention, the
/// refusals, and the seed procedure (back up, lose every replica, rehydrate).
@Suite(.serialized) struct BackupClusterTests {
    static func json(_ text: String) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    /// An entry as the JSON lines of `inspect`, `read` and `read --path` show it: text or hex.
    static func content(_ object: [String: Any]) -> String? {
        (object["text"] as? String).map { "text:" + $0 } ?? (object["hex"] as? String).map { "hex:" + $0 }
    }

    static func list(_ cluster: BackupProcessCluster) async throws -> [[String: Any]] {
        let listed = try await cluster.client(["backup", "list"], ["--json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        return json(listed.stdout) as? [[String: Any]] ?? []
    }

    @Test func badBackupFlagsStopTheCoordinatorWithTheReason() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flags-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let base = [
            "coordinator", "--listen", "127.0.0.1:\(try freePort())", "--id", "101", "--replicas", "1=127.0.0.1:1",
            "--cluster-id", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "--insecure",
        ]
        let cases: [([String], String)] = [
            (
                ["--backup-dir", directory, "--backup-interval", "5x"],
                "--backup-interval '5x' is not a duration like 30s"
            ),
            (["--backup-dir", directory, "--backup-interval", "10ms"], "--backup-interval must be at least 100ms"),
            (["--backup-dir", directory, "--max-saved-backups", "0"], "--max-saved-backups must be at least 1"),
        ]
        for (flags, reason) in cases {
            let refused = try await ReplogProcess.run(base + flags)
            #expect(refused.status != 0)
            #expect(refused.stderr.contains(reason), "\(refused.stderr)")
        }
        let file = directory + "/not-a-directory"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        let notDirectory = try await ReplogProcess.run(base + ["--backup-dir", file])
        #expect(notDirectory.status != 0)
        #expect(
            notDirectory.stderr.contains("--backup-dir: cannot use \(file): it is not a directory"),
            "\(notDirectory.stderr)"
        )
    }

    @Test func scheduledBackupsKeepTheNewestThreeAndBadInputChangesNothing() async throws {
        let cluster = try await BackupProcessCluster.make()
        do {
            for index in 0..<3 { try cluster.startReplica(index) }
            // Without --backup-dir the coordinator says how to get backups.
            try cluster.startCoordinator()
            try await cluster.waitForLeader()
            let noDirectory = try await cluster.client(["backup", "create"], ["--label", "nightly"])
            #expect(noDirectory.status != 0)
            #expect(noDirectory.stderr.contains("it was started without --backup-dir"), "\(noDirectory.stderr)")
            #expect(noDirectory.stderr.contains("restart it with --backup-dir DIR"))
            await cluster.stopCoordinator()

            let backups = cluster.directory + "/backups"
            try cluster.startCoordinator([
                "--backup-dir", backups, "--backup-interval", "1s", "--max-saved-backups", "3",
            ])
            try await cluster.waitForLeader()
            for index in 0..<5 { try await cluster.append("entry-\(index)") }
            let labelled = try await cluster.client(["backup", "create"], ["--label", "keep.me_1", "--json"])
            #expect(labelled.status == 0, "\(labelled.stderr)")
            let labelledID = (Self.json(labelled.stdout) as? [String: Any])?["id"] as? String ?? "?"
            #expect(labelledID.hasPrefix("keep.me_1-"))

            // Labels breaking each rule, and ids that do not exist: refused with the reason.
            for (label, reason) in [
                ("ab", "it has 2 characters; a label has 3 to 25"),
                (String(repeating: "z", count: 26), "it has 26 characters; a label has 3 to 25"),
                ("bad/label", "'/' is not allowed; use only A-Z, a-z, 0-9, '_', '.' and '-'"),
                ("..dots", "a label must not start with '..'"),
            ] {
                let refused = try await cluster.client(["backup", "create"], ["--label", label])
                #expect(refused.status != 0)
                #expect(refused.stderr.contains(reason), "\(refused.stderr)")
            }
            let missing = "nightly-ffffffff-ffff-4fff-8000-000000000000"
            for command in [["backup", "show", missing], ["backup", "delete", missing]] {
                let refused = try await cluster.client(command)
                #expect(refused.status != 0)
                #expect(refused.stderr.contains("no backup with id '\(missing)'"), "\(refused.stderr)")
            }
            let target = cluster.directory + "/fetched.backup"
            let nothing = try await cluster.client(["backup", "fetch", missing], ["--to", target])
            #expect(nothing.stderr.contains("no backup with id '\(missing)'"), "\(nothing.stderr)")
            #expect(!FileManager.default.fileExists(atPath: target))
            try Data("keep".utf8).write(to: URL(fileURLWithPath: target))
            let existing = try await cluster.client(["backup", "fetch", labelledID], ["--to", target])
            #expect(existing.status != 0)
            #expect(existing.stderr.contains("already exists; refusing to overwrite it (pass --force"))
            #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep")

            // Scheduled backups every second; retention keeps the newest three.
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline, try await cluster.metric("replog_coordinator_backups_succeeded") ?? 0 < 7 {
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(try await cluster.metric("replog_coordinator_backups_failed") == 0)
            #expect(try await cluster.metric("replog_coordinator_newest_backup_age_seconds") ?? 99 < 30)
            #expect(try await cluster.metric("replog_coordinator_newest_backup_size_bytes") ?? 0 > 0)
            let listed = try await Self.list(cluster)
            let ids = listed.filter { $0["status"] as? String == "STATUS_READY" }.compactMap { $0["id"] as? String }
            let scheduled = ids.filter { $0.hasPrefix("replog-backup-") }
            #expect(scheduled.count == 3, "\(ids)")
            #expect(ids.contains(labelledID))
            let files = try FileManager.default.contentsOfDirectory(atPath: backups).filter {
                $0.hasPrefix("replog-backup-")
            }
            #expect(files.count <= 4 && files.count >= 3, "\(files)")
            // The newest three survive: each is newer than any deleted one (ids sort by time).
            #expect(scheduled == scheduled.sorted())
            let shown = try await cluster.client(["backup", "show", scheduled.last!])
            let info = Self.json(shown.stdout) as? [String: Any]
            #expect(info?["status"] as? String == "STATUS_READY")
            #expect(info?["entries"] as? Int == 5)
            #expect((info?["sha256"] as? String)?.count == 64)
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }

    /// The seed documents' procedure with replog's commands: back up a cluster under load, lose
    /// every replica, initialize them, rehydrate, and check every replica holds the backup.
    @Test func seedProcedureRestoresAWipedClusterFromAFetchedBackup() async throws {
        let cluster = try await BackupProcessCluster.make()
        do {
            for index in 0..<3 { try cluster.startReplica(index) }
            let backups = cluster.directory + "/backups"
            try cluster.startCoordinator(["--backup-dir", backups, "--backup-interval", "2s"])
            try await cluster.waitForLeader()
            for index in 0..<20 { try await cluster.append("before-\(index)") }

            // Client load goes on while both backups are taken.
            let load = Task {
                try await cluster.client(["bench"], ["--size", "200B", "--count", "3000", "--concurrency", "4"])
            }
            var periodic: [String: Any]?
            let deadline = Date().addingTimeInterval(60)
            while periodic == nil && Date() < deadline {
                try await Task.sleep(for: .milliseconds(300))
                periodic = try await Self.list(cluster).first {
                    ($0["id"] as? String)?.hasPrefix("replog-backup-") == true
                        && $0["status"] as? String == "STATUS_READY"
                }
            }
            #expect(periodic != nil, "no periodic backup became ready")
            let created = try await cluster.client(["backup", "create"], ["--label", "seed-test", "--json"])
            #expect(created.status == 0, "\(created.stderr)")
            let labelled = Self.json(created.stdout) as? [String: Any] ?? [:]
            let id = labelled["id"] as? String ?? "?"
            #expect(labelled["status"] as? String == "STATUS_READY")
            let loadResult = try await load.value
            #expect(loadResult.status == 0, "\(loadResult.stderr)")

            let file = cluster.directory + "/seed.backup"
            let fetched = try await cluster.client(["backup", "fetch", id], ["--to", file])
            #expect(fetched.status == 0, "\(fetched.stderr)")
            #expect(fetched.stdout.contains("verified"))
            let inspected = try await cluster.run(["backup", "inspect", file, "--json"])
            let lines = inspected.stdout.split(separator: "\n").map(String.init)
            let summary = Self.json(lines[0]) as? [String: Any] ?? [:]
            #expect(summary["sha256"] as? String == labelled["sha256"] as? String)
            let expected = lines.dropFirst().compactMap { (Self.json($0) as? [String: Any]).flatMap(Self.content) }
            #expect(expected.count == labelled["entries"] as? Int)
            #expect(expected.prefix(20) == ArraySlice((0..<20).map { "text:before-\($0)" }))
            #expect(expected.count > 20, "the backup was taken under load")

            // Lose everything: stop every process, wipe every replica, initialize them again.
            await cluster.stopCoordinator()
            for index in 0..<3 { await cluster.stopReplica(index) }
            for index in 0..<3 {
                try FileManager.default.removeItem(atPath: cluster.replicaPath(index))
                try await cluster.run(["initialize", "--path", cluster.replicaPath(index)])
            }
            // Replica 3 stays down until after the rehydrate.
            try cluster.startReplica(0)
            try cluster.startReplica(1)
            try cluster.startCoordinator()
            try await cluster.waitForLeader()
            let restored = try await cluster.client(["rehydrate"], ["--backup", file])
            #expect(restored.status == 0, "\(restored.stderr)")
            #expect(restored.stdout.contains("restored \(expected.count) entries"))
            #expect(restored.stdout.contains("at positions 1...\(expected.count)"))
            let again = try await cluster.client(["rehydrate"], ["--backup", file])
            #expect(again.stderr.contains("refusing to restore into a non-empty log"))

            // The log reads back exactly the backup's entries, at positions 1, 2, 3...
            let read = try await cluster.client(["read"], ["--from", "1", "--json"])
            let entries = read.stdout.split(separator: "\n").compactMap { Self.json(String($0)) as? [String: Any] }
            let readBack = entries.compactMap(Self.content)
            #expect(readBack == expected, "read back \(readBack.count) entries, the backup holds \(expected.count)")
            #expect(entries.compactMap { $0["position"] as? Int } == Array(1...expected.count), "positions")

            // The late replica catches up once it hears of new positions; clients write again.
            // Its store can only be read while it is stopped: check, and if it is not there yet,
            // start it again, append once more (so that it hears of the chosen positions) and wait.
            var appended = (0..<5).map { "text:after-\($0)" }
            try cluster.startReplica(2)
            for index in 0..<5 { try await cluster.append("after-\(index)") }
            var held: [String] = []
            for round in 0..<10 where held != expected + appended {
                if round > 0 { try cluster.startReplica(2) }
                // Keep appending while it starts: the coordinator's link to a replica that was down
                // retries with a back-off of seconds, and only new positions make it catch up.
                for nudge in 0..<6 {
                    try await Task.sleep(for: .milliseconds(500))
                    try await cluster.append("nudge-\(round)-\(nudge)")
                    appended.append("text:nudge-\(round)-\(nudge)")
                }
                try await Task.sleep(for: .seconds(1))
                await cluster.stopReplica(2)
                let stored = try await cluster.run(["read", "--path", cluster.replicaPath(2), "--json"])
                held = stored.stdout.split(separator: "\n").compactMap { Self.json(String($0)) as? [String: Any] }
                    .filter { $0["type"] as? String == "APPEND" && $0["learned"] as? Bool == true }
                    .compactMap(Self.content)
            }
            #expect(
                held == expected + appended,
                "replica 3 holds \(held.count) learned entries, not the \(expected.count + appended.count) expected"
            )
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }
}
