import Foundation
import ReplogTestSupport
import Testing

/// `replog append`, `truncate` and `status`, run as real processes against a log server.
@Suite struct ClientCommandTests {
    @Test func appendFromArgumentFileAndStandardInput() async throws {
        let server = try await InMemoryLogServer()
        let address = server.endpoint.description
        let first = try await ReplogProcess.run(["append", "--coordinator", address, "--insecure", "hello world"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout == "1\n")

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("replog-entry-\(UUID().uuidString)")
        try Data([0, 1, 2, 255]).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let second = try await ReplogProcess.run([
            "append", "--coordinator", address, "--insecure", "--file", file.path,
        ])
        #expect(second.stdout == "2\n", "\(second.stderr)")

        let third = try await ReplogProcess.run(
            ["append", "-", "--coordinator", address, "--insecure"],
            stdin: Data("piped".utf8)
        )
        #expect(third.stdout == "3\n", "\(third.stderr)")

        let entries = server.state.withLockedValue { $0.entries }
        #expect(entries[1].map { String(buffer: $0) } == "hello world")
        #expect(entries[2].map { Array($0.readableBytesView) } == [0, 1, 2, 255])
        #expect(entries[3].map { String(buffer: $0) } == "piped")
        await server.stop()
    }

    @Test func optionsComeFromTheEnvironmentAndConfigFiles() async throws {
        let server = try await InMemoryLogServer()
        let viaEnvironment = try await ReplogProcess.run(
            ["append", "from-env"],
            environment: ["REPLOG_COORDINATOR": server.endpoint.description, "REPLOG_INSECURE": "true"]
        )
        #expect(viaEnvironment.stdout == "1\n", "\(viaEnvironment.stderr)")

        let config = FileManager.default.temporaryDirectory.appendingPathComponent("replog-\(UUID().uuidString).conf")
        try "# client settings\ncoordinator = \(server.endpoint)\ninsecure = true\n".write(
            to: config,
            atomically: true,
            encoding: .utf8
        )
        defer { try? FileManager.default.removeItem(at: config) }
        let viaFile = try await ReplogProcess.run(["append", "--config", config.path, "from-file"])
        #expect(viaFile.stdout == "2\n", "\(viaFile.stderr)")

        let status = try await ReplogProcess.run(["status", "--json"], environment: ["REPLOG_CONFIG": config.path])
        #expect(status.status == 0, "\(status.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect((object["replicas"] as? [[String: Any]])?.count == 2)
        await server.stop()
    }

    @Test func statusTableShowsEveryReplicaAndTheLeader() async throws {
        let server = try await InMemoryLogServer()
        let address = server.endpoint.description
        _ = try await ReplogProcess.run(["append", "--coordinator", address, "--insecure", "x"])
        let status = try await ReplogProcess.run(["status", "--coordinator", address, "--insecure"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("leading coordinator: c-test at 127.0.0.1:7100"))
        #expect(status.stdout.contains("r1  127.0.0.1:7001  VOTING       1      1    0"))
        #expect(status.stdout.contains("r2  127.0.0.1:7002  UNREACHABLE  0      0    1"))
        let truncate = try await ReplogProcess.run(["truncate", "--to", "1", "--coordinator", address, "--insecure"])
        #expect(truncate.status == 0, "\(truncate.stderr)")
        await server.stop()
    }

    @Test func badInputGetsClearErrors() async throws {
        let none = try await ReplogProcess.run(["append", "--insecure", "x"])
        #expect(none.status != 0)
        #expect(none.stderr.contains("no coordinator given"))
        let badAddress = try await ReplogProcess.run(["append", "--coordinator", "nowhere", "--insecure", "x"])
        #expect(badAddress.stderr.contains("'nowhere' is not HOST:PORT"))
        let both = try await ReplogProcess.run([
            "append", "--coordinator", "127.0.0.1:1", "--insecure", "x", "--file", "/etc/hostname",
        ])
        #expect(both.stderr.contains("not both"))
        let unreachable = try await ReplogProcess.run([
            "append", "--coordinator", "127.0.0.1:1", "--insecure", "--timeout", "0.3", "x",
        ])
        #expect(unreachable.status != 0)
        #expect(unreachable.stderr.contains("127.0.0.1:1: cannot connect: connection refused"))
        let badFlag = try await ReplogProcess.run(
            ["status", "--coordinator", "127.0.0.1:1"],
            environment: ["REPLOG_INSECURE": "perhaps"]
        )
        #expect(badFlag.stderr.contains("environment variable REPLOG_INSECURE sets flag 'insecure' to 'perhaps'"))
    }
}
