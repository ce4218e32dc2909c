import Foundation
import NIOCore
import ReplogBackup
import ReplogModel
import ReplogTestSupport
import Testing

/// `replog backup verify` and `replog backup inspect`, run as real processes on real files.
@Suite struct BackupCommandTests {
    let directory: String

    init() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("replog-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        directory = url.path
    }

    func makeBackup() throws -> String {
        let header = BackupHeader(
            clusterID: ClusterID(high: 1, low: 2),
            backupID: "cli-test",
            label: "cli",
            createdAtMilliseconds: 1_700_000_000_000,
            firstPosition: 1,
            lastPosition: 10
        )
        let writer = try BackupFileWriter(directory: directory, header: header)
        try writer.append(position: 1, bytes: ByteBuffer(string: "hello"))
        try writer.append(position: 3, bytes: ByteBuffer(bytes: [0x00, 0xFF]))
        try writer.append(position: 7, bytes: ByteBuffer(string: "say \"hi\""))
        try writer.finish()
        return writer.finalPath
    }

    @Test func verifyReportsAGoodBackup() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try makeBackup()
        let result = try await ReplogProcess.run(["backup", "verify", path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("OK \(path)"))
        #expect(result.stdout.contains("entries:       3 (15 bytes)"))
        #expect(result.stdout.contains("created:       2023-11-14T22:13:20Z"))
    }

    @Test func inspectPrintsEntriesInRangeAsTextOrHex() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try makeBackup()
        let text = try await ReplogProcess.run(["backup", "inspect", path, "--from", "2", "--to", "7"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("3\t2 bytes\thex:00ff"))
        #expect(text.stdout.contains("7\t8 bytes\tsay \"hi\""))
        #expect(!text.stdout.contains("hello"))

        let json = try await ReplogProcess.run(["backup", "inspect", path, "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let lines = json.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        for line in lines {
            #expect(try JSONSerialization.jsonObject(with: Data(line.utf8)) is [String: Any], "not JSON: \(line)")
        }
        #expect(lines[1] == #"{"position":1,"size":5,"text":"hello"}"#)
        #expect(lines[2] == #"{"position":3,"size":2,"hex":"00ff"}"#)
        #expect(lines[3] == #"{"position":7,"size":8,"text":"say \"hi\""}"#)
    }

    @Test func damagedBackupsFailWithTheReason() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try makeBackup()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let offset = bytes.range(of: Data("hello".utf8))!.lowerBound
        bytes[offset] ^= 0x01
        let flipped = directory + "/flipped.backup"
        try bytes.write(to: URL(fileURLWithPath: flipped))
        let result = try await ReplogProcess.run(["backup", "inspect", flipped])
        #expect(result.status != 0)
        #expect(result.stderr.contains("failed its SHA-256 check"))
        #expect(!result.stdout.contains("iello"), "entries of a damaged backup must not be printed")

        let truncated = directory + "/truncated.backup"
        try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: truncated))
        let cut = try await ReplogProcess.run(["backup", "verify", truncated])
        #expect(cut.status != 0)
        #expect(cut.stderr.contains("is truncated"))
        #expect(cut.stderr.contains("fetch the backup again"))
    }

    @Test func wrongFlagsAndFilesAreClearErrors() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = try makeBackup()
        let backwards = try await ReplogProcess.run(["backup", "inspect", path, "--from", "9", "--to", "2"])
        #expect(backwards.status != 0)
        #expect(backwards.stderr.contains("--from 9 is above --to 2"))
        let missing = try await ReplogProcess.run(["backup", "verify", directory + "/none.backup"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no backup at"))
        let notBackup = directory + "/readme.backup"
        try Data("hello".utf8).write(to: URL(fileURLWithPath: notBackup))
        let other = try await ReplogProcess.run(["backup", "verify", notBackup])
        #expect(other.status != 0)
        #expect(other.stderr.contains("is not a replog backup"))
    }
}

/// `replog rehydrate` as a real process against a log server.
@Suite struct RehydrateCommandTests {
    @Test func restoresAFreshBackupAndRefusesWhatItMust() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "replog-rehydrate-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let target = try await InMemoryLogServer()
        let header = BackupHeader(
            clusterID: InMemoryLogServer.cluster,
            backupID: "restore-me",
            label: "cli",
            createdAtMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000),
            firstPosition: 10,
            lastPosition: 20
        )
        let writer = try BackupFileWriter(directory: directory.path, header: header)
        for position in [10, 12, 20] as [UInt64] {
            try writer.append(position: position, bytes: ByteBuffer(string: "p\(position)"))
        }
        try writer.finish()
        let base = [
            "rehydrate", "--coordinator", target.endpoint.description, "--insecure", "--backup", writer.finalPath,
        ]

        let restored = try await ReplogProcess.run(base + ["--batch-size", "2"])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stdout.contains("restored 3 entries (9 bytes)"))
        #expect(restored.stdout.contains("at positions 1...3"))
        let entries = target.state.withLockedValue { state in (1...3).map { String(buffer: state.entries[$0]!) } }
        #expect(entries == ["p10", "p12", "p20"])

        let again = try await ReplogProcess.run(base)
        #expect(again.status != 0)
        #expect(again.stderr.contains("refusing to restore into a non-empty log"))
        #expect(target.state.withLockedValue { $0.end } == 3)

        var oldHeader = header
        oldHeader.backupID = "two-hours-old"
        oldHeader.createdAtMilliseconds -= 2 * 3_600_000
        let old = try BackupFileWriter(directory: directory.path, header: oldHeader)
        try old.finish()
        let stale = try await ReplogProcess.run(
            ["rehydrate", "--coordinator", target.endpoint.description, "--insecure", "--backup", old.finalPath]
                + ["--stale-after", "1"]
        )
        #expect(stale.status != 0)
        #expect(stale.stderr.contains("the backup is 2h 0m old, older than the 1h 0m limit"))
        #expect(stale.stderr.contains("--accept-stale"))
        await target.stop()
    }
}
