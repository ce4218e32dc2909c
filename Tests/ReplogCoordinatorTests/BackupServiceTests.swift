import Foundation
import MetricsTestKit
import NIOCore
import ReplogBackup
import ReplogClient
import ReplogCoordinator
import ReplogModel
import ReplogWire
import Testing

/// The coordinator's backup service in a whole cluster in one process (real sockets, real stores,
/// real files): on-demand and scheduled backups, the requests, and their errors.
@Suite struct BackupServiceTests {
    static func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("backups-\(UUID().uuidString)").path
        try BackupDirectory(path: path).prepare()
        return path
    }

    /// Polls `show` until the backup leaves STATUS_BACKING_UP.
    static func settled(_ id: String, _ client: ReplogClient) async throws -> BackupInfo {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let info = try await client.showBackup(id)
            if info.status != .backingUp { return info }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CancellationError()
    }

    static func refusal(_ body: () async throws -> Void) async -> ErrorReply? {
        do {
            try await body()
            return nil
        } catch ReplogClientError.rejected(let reply) {
            return reply
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    @Test func anOnlineBackupHoldsTheLearnedLogWhileWritesGoOnAndCanBeFetchedAndDeleted() async throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cluster = try await LocalTestCluster.start { $0.backups = BackupSettings(directory: directory) }
        let client = cluster.client()
        for index in 0..<200 { _ = try await client.append(ByteBuffer(string: "entry-\(index)")) }
        let writer = cluster.client()
        let ongoing = Task {
            for index in 0..<100 { _ = try await writer.append(ByteBuffer(string: "during-\(index)")) }
        }
        let created = try await client.createBackup(label: "before-upgrade")
        #expect(created.status == .backingUp)
        #expect(created.id.hasPrefix("before-upgrade-"))
        #expect(created.firstPosition == 1 && created.lastPosition >= 200)
        let info = try await Self.settled(created.id, client)
        try await ongoing.value
        #expect(info.status == .ready, "\(info.reason)")
        #expect(info.sha256.count == 32)

        // The file holds exactly the log's entries up to the fixed position.
        let path = directory + "/" + info.id + ".backup"
        let summary = try BackupFileReader.verify(path: path)
        #expect(summary.sha256 == info.sha256)
        #expect(summary.fileSize == info.size)
        #expect(summary.entryCount == info.lastPosition)
        var log: [String] = []
        for try await entry in client.read(from: 1, to: info.lastPosition) { log.append(String(buffer: entry.bytes)) }
        let reader = try BackupFileReader(path: path)
        var backedUp: [String] = []
        while let entry = try reader.next() { backedUp.append(String(buffer: entry.bytes)) }
        #expect(backedUp == log)
        #expect(backedUp.prefix(200) == ArraySlice((0..<200).map { "entry-\($0)" }))

        // Listed, filtered by label, and fetched in chunks to the same bytes.
        #expect(try await client.listBackups().map(\.id) == [info.id])
        #expect(try await client.listBackups(label: "before-upgrade").map(\.status) == [.ready])
        #expect(try await client.listBackups(label: "other").isEmpty)
        var copy = ByteBuffer()
        while UInt64(copy.readableBytes) < info.size {
            let chunk = try await client.fetchBackupChunk(info.id, offset: UInt64(copy.readableBytes), maxBytes: 1000)
            #expect(chunk.size == info.size)
            copy.writeImmutableBuffer(chunk.data)
        }
        #expect(Array(copy.readableBytesView) == Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        let end = try await client.fetchBackupChunk(info.id, offset: info.size, maxBytes: 1000)
        #expect(end.data.readableBytes == 0)

        try await client.deleteBackup(info.id)
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(await Self.refusal { _ = try await client.showBackup(info.id) }?.code == .notFound)
        #expect(try cluster.coordinatorMetrics.expectCounter("replog_coordinator_backups_succeeded").totalValue == 1)
        await writer.close()
        await client.close()
        await cluster.stop()
    }

    @Test func badRequestsAreRefusedWithTheReasonAndChangeNothing() async throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cluster = try await LocalTestCluster.start { $0.backups = BackupSettings(directory: directory) }
        let client = cluster.client()
        _ = try await client.append(ByteBuffer(string: "one"))
        let labels = [
            "ab": "it has 2 characters; a label has 3 to 25",
            String(repeating: "x", count: 26): "it has 26 characters; a label has 3 to 25",
            "no spaces": "' ' is not allowed",
            "..hidden": "a label must not start with '..'",
        ]
        for (label, reason) in labels {
            let reply = await Self.refusal { _ = try await client.createBackup(label: label) }
            #expect(reply?.code == .invalidRequest)
            #expect(reply?.text.contains(reason) == true, "\(String(describing: reply))")
        }
        let missing = "nightly-ffffffff-ffff-4fff-8000-000000000000"
        for operation: (ReplogClient) async throws -> Void in [
            { _ = try await $0.showBackup(missing) }, { try await $0.deleteBackup(missing) },
            { _ = try await $0.fetchBackupChunk(missing, offset: 0, maxBytes: 100) },
        ] {
            let reply = await Self.refusal { try await operation(client) }
            #expect(reply?.code == .notFound)
            #expect(reply?.text.contains("no backup with id '\(missing)'") == true)
        }
        let escape = await Self.refusal { _ = try await client.showBackup("../../etc/passwd") }
        #expect(escape?.code == .invalidRequest)
        #expect(escape?.text.contains("invalid backup id") == true)

        let ready = try await Self.settled(try await client.createBackup(label: "good").id, client)
        #expect(ready.status == .ready)
        let beyond = await Self.refusal {
            _ = try await client.fetchBackupChunk(ready.id, offset: ready.size + 1, maxBytes: 10)
        }
        #expect(beyond?.code == .invalidRequest)
        #expect(beyond?.text.contains("is beyond the end of backup \(ready.id) (\(ready.size) bytes)") == true)
        let nothing = await Self.refusal { _ = try await client.fetchBackupChunk(ready.id, offset: 0, maxBytes: 0) }
        #expect(nothing?.code == .invalidRequest)
        #expect(try await client.listBackups().map(\.id) == [ready.id])
        // Besides the backup only the (empty) directory a staged recovery would be kept in.
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == [
                ready.id + ".backup", "staging",
            ]
        )
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/staging").isEmpty)
        await client.close()
        await cluster.stop()
    }

    @Test func aCoordinatorWithoutABackupDirectorySaysHowToGetOne() async throws {
        let cluster = try await LocalTestCluster.start()
        let client = cluster.client()
        let reply = await Self.refusal { _ = try await client.createBackup(label: "nightly") }
        #expect(reply?.code == .invalidRequest)
        #expect(reply?.text.contains("restart it with --backup-dir DIR") == true)
        await client.close()
        await cluster.stop()
    }

    @Test func scheduledBackupsKeepTheNewestAndNeverDeleteLabelledOnes() async throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cluster = try await LocalTestCluster.start {
            $0.backups = BackupSettings(directory: directory, interval: .milliseconds(1100), maxSaved: 2)
        }
        let client = cluster.client()
        for index in 0..<20 { _ = try await client.append(ByteBuffer(string: "scheduled-\(index)")) }
        let labelled = try await Self.settled(try await client.createBackup(label: "keep-me").id, client)
        #expect(labelled.status == .ready)
        let metrics = cluster.coordinatorMetrics
        // Scheduled backups that started while the appends ran (a loaded machine makes them slow)
        // hold fewer entries; wait until the newest two kept ones surely started after them.
        let succeeded = { (try? metrics.expectCounter("replog_coordinator_backups_succeeded").totalValue) ?? 0 }
        let wanted = max(5, succeeded() + 3)
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, succeeded() < wanted {
            try await Task.sleep(for: .milliseconds(100))
        }
        let backups = try await client.listBackups().filter { $0.status == .ready }
        let scheduled = backups.filter { $0.label.isEmpty }
        #expect(backups.contains { $0.id == labelled.id })
        #expect(scheduled.count == 2, "\(backups.map(\.id))")
        #expect(scheduled.allSatisfy { $0.id.hasPrefix("replog-backup-") && $0.entryCount == 20 })
        #expect(try metrics.expectCounter("replog_coordinator_backups_succeeded").totalValue >= 5)
        #expect(try metrics.expectGauge("replog_coordinator_backups_saved").lastValue ?? 0 <= 3)
        #expect(try metrics.expectGauge("replog_coordinator_newest_backup_size_bytes").lastValue ?? 0 > 0)
        #expect(try metrics.expectGauge("replog_coordinator_newest_backup_age_seconds").lastValue ?? 99 < 30)
        await client.close()
        await cluster.stop()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).allSatisfy { !$0.hasPrefix(".tmp-") })
    }
}
