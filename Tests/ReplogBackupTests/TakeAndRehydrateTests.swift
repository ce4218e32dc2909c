import Foundation
import NIOCore
import ReplogBackup
import ReplogClient
import ReplogModel
import ReplogNet
import ReplogTestSupport
import Testing

func client(for server: InMemoryLogServer) -> ReplogClient {
    var configuration = ClientConfiguration(coordinators: [server.endpoint], name: "backup-test", security: .plaintext)
    configuration.readBatchEntries = 7
    return ReplogClient(configuration: configuration)
}

/// Backups taken from, and restored into, a log served over the network.
@Suite struct TakeAndRehydrateTests {
    let now: UInt64 = 1_800_000_000_000

    func fill(_ client: ReplogClient, count: Int, prefix: String) async throws {
        for index in 0..<count { _ = try await client.append(ByteBuffer(string: "\(prefix)-\(index)")) }
    }

    @Test func onlineBackupCoversTheLogAsItWasWhenItStarted() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let server = try await InMemoryLogServer()
        let writer = client(for: server)
        try await fill(writer, count: 50, prefix: "before")
        // Writes go on while the backup is taken.
        let ongoing = Task { try await fill(writer, count: 50, prefix: "during") }
        let summary = try await BackupTaker(directory: directory.path).take(
            id: "online-test",
            label: "online",
            clusterID: InMemoryLogServer.cluster,
            from: ClientBackupSource(client: client(for: server)),
            now: now
        )
        try await ongoing.value
        #expect(summary.header.firstPosition == 1)
        let end = summary.header.lastPosition
        #expect(end >= 50)
        #expect(summary.entryCount == end)
        let (entries, _) = try Fixtures.readAll(directory.path + "/online-test.backup")
        #expect(entries.map(\.position) == Array(1...end))
        #expect(entries.prefix(50).map { String(buffer: $0.bytes) } == (0..<50).map { "before-\($0)" })
        await writer.close()
        await server.stop()
    }

    @Test func rehydrateRestoresEveryEntryInOrderIntoAnEmptyLog() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let source = try await InMemoryLogServer()
        try await fill(client(for: source), count: 40, prefix: "entry")
        let summary = try await BackupTaker(directory: directory.path).take(
            id: "full",
            label: "",
            clusterID: InMemoryLogServer.cluster,
            from: ClientBackupSource(client: client(for: source)),
            now: now
        )
        let target = try await InMemoryLogServer()
        let result = try await Rehydrator(batchSize: 16).rehydrate(
            file: directory.path + "/full.backup",
            into: ClientBackupSink(client: client(for: target)),
            nowMilliseconds: now + 60_000
        )
        #expect(result.backup == summary)
        #expect(result.positions == 1...40)
        let restored = target.state.withLockedValue { state in (1...40).map { String(buffer: state.entries[$0]!) } }
        #expect(restored == (0..<40).map { "entry-\($0)" })
        await source.stop()
        await target.stop()
    }

    /// Large entries must not add up to an append above the frame limit: batches are bounded by
    /// bytes as well as by entries (one entry above the bound goes alone).
    @Test func batchesAreBoundedByBytesToo() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var header = Fixtures.header(id: "bounded", first: 1, last: 10)
        header.clusterID = InMemoryLogServer.cluster
        header.createdAtMilliseconds = now
        let writer = try BackupFileWriter(directory: directory.path, header: header)
        for position in 1...10 as ClosedRange<Position> {
            try writer.append(position: position, bytes: ByteBuffer(repeating: UInt8(position), count: 900))
        }
        try writer.finish()
        let target = try await InMemoryLogServer()
        let result = try await Rehydrator(batchSize: 256, maxBatchBytes: 2000).rehydrate(
            file: writer.finalPath,
            into: ClientBackupSink(client: client(for: target)),
            nowMilliseconds: now
        )
        #expect(result.positions == 1...10)
        #expect(target.state.withLockedValue { $0.appendRequests } == 5)
        let restored = target.state.withLockedValue { state in
            (1...10).map { state.entries[$0]?.readableBytesView.first }
        }
        #expect(restored == (1...10).map { UInt8($0) })
        await target.stop()
    }

    @Test func refusesANonEmptyLogAndLeavesItAlone() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try Fixtures.write(in: directory.path, header: Fixtures.header(id: "small"))
        let target = try await InMemoryLogServer()
        _ = try await client(for: target).append(ByteBuffer(string: "live data"))
        var policy = RestorePolicy()
        policy.allowForeignCluster = true
        policy.acceptStale = true
        await #expect(throws: RehydrateError.notEmpty(begin: 1, end: 1)) {
            _ = try await Rehydrator(policy: policy).rehydrate(
                file: directory.path + "/small.backup",
                into: ClientBackupSink(client: client(for: target)),
                nowMilliseconds: now
            )
        }
        #expect(
            RehydrateError.notEmpty(begin: 1, end: 1).description.hasPrefix("refusing to restore into a non-empty log")
        )
        #expect(target.state.withLockedValue { $0.end } == 1)
        await target.stop()
    }

    @Test func refusesDamagedForeignOrStaleBackupsBeforeWritingAnything() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (path, _) = try Fixtures.write(in: directory.path)
        let target = try await InMemoryLogServer()
        let sink = ClientBackupSink(client: client(for: target))
        let fresh = Fixtures.header().createdAtMilliseconds + 60_000

        // Fixtures are written for another cluster id.
        await #expect(throws: BackupError.foreignCluster(backup: Fixtures.cluster, cluster: InMemoryLogServer.cluster))
        {
            _ = try await Rehydrator().rehydrate(file: path, into: sink, nowMilliseconds: fresh)
        }
        // And they are old at `now`.
        await #expect(throws: BackupError.self) {
            _ = try await Rehydrator(policy: RestorePolicy(allowForeignCluster: true)).rehydrate(
                file: path,
                into: sink,
                nowMilliseconds: now
            )
        }
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 40] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: path))
        await #expect(throws: BackupError.self) {
            _ = try await Rehydrator(policy: RestorePolicy(acceptStale: true, allowForeignCluster: true)).rehydrate(
                file: path,
                into: sink,
                nowMilliseconds: now
            )
        }
        #expect(target.state.withLockedValue { $0.end } == 0, "a refused restore wrote to the log")
        await target.stop()
    }
}
