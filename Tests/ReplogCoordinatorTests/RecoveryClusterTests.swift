import Foundation
import NIOCore
import ReplogBackup
import ReplogClient
import ReplogCoordinator
import ReplogModel
import ReplogWire
import Testing

/// Staged recovery against a whole cluster in one process: real replicas, stores and sockets.
@Suite struct RecoveryClusterTests {
    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("recovery-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func now() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }

    /// Takes backup `id` of the live log into `directory`.
    static func backup(_ id: String, of cluster: LocalTestCluster, into directory: String) async throws
        -> BackupSummary
    {
        let client = cluster.client()
        defer { Task { await client.close() } }
        return try await BackupTaker(directory: directory).take(
            id: id,
            label: "",
            clusterID: cluster.cluster,
            from: ClientBackupSource(client: client),
            now: now()
        )
    }

    static func texts(_ client: ReplogClient, from: Position) async throws -> [String] {
        var texts: [String] = []
        for try await entry in client.read(from: from) { texts.append(String(buffer: entry.bytes)) }
        return texts
    }

    /// Polls until the commit is over; returns the final status.
    static func awaitCommit(_ client: ReplogClient) async throws -> RecoveryStatusResponse {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let status = try await client.recoveryStatus()
            if status.state != .committing { return status }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ReplogClientError.deadlineExceeded(
            operation: "commit",
            after: .seconds(60),
            lastError: "still committing"
        )
    }

    @Test func stagePrintDeleteAndCommitReplaceTheLogWhileWritesAreRefused() async throws {
        let backups = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: backups) }
        let cluster = try await LocalTestCluster.start { $0.backups = BackupSettings(directory: backups) }
        let client = cluster.client()
        for index in 1...20 { _ = try await client.append(ByteBuffer(string: "e\(index)")) }
        let summary = try await Self.backup("before-restore", of: cluster, into: backups)
        #expect(summary.entryCount == 20)
        for index in 21...25 { _ = try await client.append(ByteBuffer(string: "late\(index)")) }

        #expect(try await client.recoveryStatus().state == .none)
        await #expect(throws: ReplogClientError.self) { _ = try await client.recoveryCommit() }
        let staged = try await client.recoveryStage(RecoveryStageRequest(token: 1, backupID: "before-restore"))
        #expect(staged.state == .staged && staged.persisted)
        #expect(staged.entryCount == 20 && staged.backupID == "before-restore")
        #expect(await cluster.coordinator.currentRestore == "before-restore")
        // The backup service's view of the staged backup follows the recovery.
        #expect(try await client.showBackup("before-restore").status == .restoring)
        #expect(try await client.listBackups().map(\.status) == [.restoring])
        // The same request again (a retry) is fine; another stage is not.
        #expect(
            try await client.recoveryStage(RecoveryStageRequest(token: 1, backupID: "before-restore")).state == .staged
        )
        do {
            _ = try await client.recoveryStage(RecoveryStageRequest(token: 2, backupID: "before-restore"))
            Issue.record("a second stage was accepted")
        } catch ReplogClientError.rejected(let reply) {
            #expect(reply.code == .conflict && reply.text.contains("another backup is already staged"))
        }

        // Writes get the typed refusal at once; reads go on.
        let refused = ContinuousClock.now
        do {
            _ = try await client.append(ByteBuffer(string: "refused"))
            Issue.record("an append was accepted while a recovery is staged")
        } catch ReplogClientError.recoveryInProgress(let text) {
            #expect(text.contains("replog recovery commit") && text.contains("replog recovery unload"))
        }
        #expect(ContinuousClock.now - refused < .seconds(2), "a refused write must not be retried")
        let metrics = cluster.coordinatorMetrics
        #expect(try metrics.expectGauge("replog_coordinator_recovery_state").lastValue == 1)
        #expect(try metrics.expectCounter("replog_coordinator_recovery_refused_writes").totalValue == 1)
        await #expect(throws: ReplogClientError.self) { _ = try await client.truncate(to: 3) }
        #expect(try await Self.texts(client, from: 1).count == 25)

        let page = try await client.recoveryPrint(
            RecoveryPrintRequest(from: 1, to: .max, maxEntries: 100, maxBytes: 1 << 20, grep: "e1")
        )
        #expect(page.entries.map { String(buffer: $0.bytes) } == ["e1"] + (10...19).map { "e\($0)" })
        let deleted = try await client.recoveryDelete(RecoveryDeleteRequest(positions: [3, 7]))
        #expect(deleted.removedCount == 2 && deleted.remainingCount == 18)
        #expect(deleted.removed.map { String(buffer: $0.head) } == ["e3", "e7"])
        await #expect(throws: ReplogClientError.self) {
            _ = try await client.recoveryDelete(RecoveryDeleteRequest(positions: [999]))
        }

        let end = try await client.positions().end
        #expect(try await client.recoveryCommit().state == .committing)
        let done = try await Self.awaitCommit(client)
        #expect(done.state == .none, "\(done.message)")
        #expect(done.restartFrom > end + 1, "the restored entries come after every old position and the fence")
        #expect(done.committedLast == done.restartFrom + 17)
        #expect(await cluster.coordinator.currentRestore == nil)
        #expect(try await client.showBackup("before-restore").status == .ready)
        #expect(try metrics.expectGauge("replog_coordinator_recovery_state").lastValue == 0)
        #expect(
            try metrics.expectCounter("replog_coordinator_recovery_commits", [("outcome", "finished")]).totalValue == 1
        )
        #expect(try metrics.expectCounter("replog_coordinator_recovery_entries_written").totalValue == 18)

        // Old positions are truncated; the log holds exactly the staged entries minus the deletions.
        for old in [1, end, end + 1] {
            do {
                _ = try await client.readPage(from: old, to: .max)
                Issue.record("position \(old) was served after the restore")
            } catch ReplogClientError.truncated(let restart) {
                #expect(restart == done.restartFrom)
            }
        }
        let expected = (1...20).filter { $0 != 3 && $0 != 7 }.map { "e\($0)" }
        #expect(try await Self.texts(client, from: done.restartFrom) == expected)
        #expect(try await client.positions().begin == done.restartFrom)
        // Writes are served again, after the restored entries.
        #expect(try await client.append(ByteBuffer(string: "after")) > done.committedLast)
        #expect(try await client.recoveryUnload().message == "nothing was staged")
        await client.close()
        await cluster.stop()
    }

    @Test func aStageSurvivesARestartAndAnInterruptedCommitHoldsReadersUntilItIsRunAgain() async throws {
        let backups = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: backups) }
        var configuration: CoordinatorNodeConfiguration!
        let cluster = try await LocalTestCluster.start { adjusted in
            adjusted.backups = BackupSettings(directory: backups)
            adjusted.recoveryCommit.maxAttempts = 1
            adjusted.recoveryCommit.settleTimeout = .seconds(2)
        }
        configuration = await cluster.coordinator.configuration
        var client = cluster.client()
        for index in 1...10 { _ = try await client.append(ByteBuffer(string: "e\(index)")) }
        _ = try await Self.backup("kept", of: cluster, into: backups)
        _ = try await client.append(ByteBuffer(string: "late"))
        _ = try await client.recoveryStage(RecoveryStageRequest(token: 5, backupID: "kept"))
        _ = try await client.recoveryDelete(RecoveryDeleteRequest(grep: "e10"))

        // A restart keeps the stage and its edits.
        await cluster.stopCoordinator()
        try await cluster.startCoordinator(configuration)
        await client.close()
        client = cluster.client()
        let restored = try await client.recoveryStatus()
        #expect(restored.state == .staged && restored.entryCount == 9 && restored.deletedCount == 1)
        await #expect(throws: ReplogClientError.self) { _ = try await client.append(ByteBuffer(string: "x")) }

        // Two replicas stop answering: the commit's first attempt fails and it stops, with
        // readers held at the old end.
        let oldEnd = try await client.positions().end
        let leading = ContinuousClock.now + .seconds(20)
        while await !cluster.coordinator.isLeading && ContinuousClock.now < leading {
            try await Task.sleep(for: .milliseconds(20))
        }
        cluster.muted.withLockedValue { $0 = [1, 2] }
        _ = try await client.recoveryCommit()
        let interrupted = try await Self.awaitCommit(client)
        #expect(interrupted.state == .interrupted, "\(interrupted.message)")
        #expect(interrupted.readCap == oldEnd)
        #expect(interrupted.message.contains("run `replog recovery commit` again"))
        do {
            _ = try await client.recoveryUnload()
            Issue.record("unload was accepted after a commit started writing")
        } catch ReplogClientError.rejected(let reply) {
            #expect(reply.code == .conflict)
        }
        cluster.muted.withLockedValue { $0 = [] }

        // After a restart the hold is still there; run again, the commit finishes.
        await cluster.stopCoordinator()
        configuration.recoveryCommit.settleTimeout = .seconds(20)
        configuration.recoveryCommit.maxAttempts = 3
        try await cluster.startCoordinator(configuration)
        await client.close()
        client = cluster.client()
        #expect(try await client.recoveryStatus().state == .interrupted)
        #expect(try await client.showBackup("kept").status == .restoring, "an interrupted commit still restores it")
        #expect(try await client.positions().end == oldEnd)
        _ = try await client.recoveryCommit()
        let done = try await Self.awaitCommit(client)
        #expect(done.state == .none, "\(done.message)")
        #expect(try await Self.texts(client, from: done.restartFrom) == (1...9).map { "e\($0)" })
        #expect(try await client.showBackup("kept").status == .ready)
        await client.close()
        await cluster.stop()
    }

    @Test func withoutABackupDirectoryAnUploadIsStagedInMemory() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cluster = try await LocalTestCluster.start()
        let client = cluster.client()
        _ = try await client.append(ByteBuffer(string: "live"))
        let writer = try BackupFileWriter(
            directory: directory,
            header: BackupHeader(
                clusterID: cluster.cluster,
                backupID: "uploaded",
                label: "",
                createdAtMilliseconds: Self.now(),
                firstPosition: 1,
                lastPosition: 3
            )
        )
        for position in 1...3 as ClosedRange<Position> {
            try writer.append(position: position, bytes: ByteBuffer(string: "u\(position)"))
        }
        try writer.finish()
        let file = ByteBuffer(bytes: try Data(contentsOf: URL(fileURLWithPath: writer.finalPath)))
        // By id: this coordinator has no backup directory.
        await #expect(throws: ReplogClientError.self) {
            _ = try await client.recoveryStage(RecoveryStageRequest(token: 1, backupID: "uploaded"))
        }
        let split = file.readableBytes / 3
        _ = try await client.recoveryUpload(
            RecoveryUploadRequest(uploadID: 9, offset: 0, last: false, chunk: file.getSlice(at: 0, length: split)!)
        )
        let uploaded = try await client.recoveryUpload(
            RecoveryUploadRequest(
                uploadID: 9,
                offset: UInt64(split),
                last: true,
                chunk: file.getSlice(at: split, length: file.readableBytes - split)!
            )
        )
        #expect(uploaded.received == UInt64(file.readableBytes))
        let staged = try await client.recoveryStage(RecoveryStageRequest(token: 3, uploadID: 9))
        #expect(staged.state == .staged && !staged.persisted && staged.entryCount == 3)
        #expect(staged.message.contains("in memory only"))
        _ = try await client.recoveryCommit()
        let done = try await Self.awaitCommit(client)
        #expect(try await Self.texts(client, from: done.restartFrom) == ["u1", "u2", "u3"])
        await client.close()
        await cluster.stop()
    }
}
