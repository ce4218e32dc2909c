import Foundation
import Testing

/// The README's first command: `replog local-cluster`, then the commands it prints.
@Suite(.serialized) struct LocalClusterTests {
    @Test func startsATLSClusterThatServesTheCommandsItPrintsAndStopsEverything() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "local-cluster-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Below the ephemeral port range, which other tests' servers draw from.
        let base = 10000 + Int.random(in: 0..<200) * 100
        let cluster = try ReplogDaemon(
            ["local-cluster", "--dir", directory + "/data", "--base-port", "\(base)", "--coordinators", "2"],
            logPath: directory + ".log"
        )
        defer { try? FileManager.default.removeItem(atPath: directory + ".log") }
        let deadline = Date().addingTimeInterval(120)
        while !cluster.log.contains("Ctrl-C stops the cluster") && cluster.process.isRunning && Date() < deadline {
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(cluster.log.contains("is up, with mutual TLS"), "\(cluster.log)")
        #expect(cluster.log.contains("and read it back"))

        let environment = [
            "REPLOG_COORDINATOR": "127.0.0.1:\(base + 101)",
            "REPLOG_CERT": "\(directory)/data/certs/client-local-client.pem",
            "REPLOG_KEY": "\(directory)/data/certs/client-local-client.key",
            "REPLOG_CA": "\(directory)/data/certs/ca.pem",
        ]
        let append = try await ReplogProcess.run(["append", "my first entry"], environment: environment)
        #expect(append.status == 0, "\(append.stderr)")
        let read = try await ReplogProcess.run(["read", "--from", "1", "--json"], environment: environment)
        #expect(read.status == 0, "\(read.stderr)")
        #expect(read.stdout.contains(#""text":"hello from replog local-cluster""#))
        #expect(read.stdout.contains(#""text":"my first entry""#))
        let status = try await ReplogProcess.run(["status"], environment: environment)
        #expect(status.stdout.contains("leading coordinator: 10"), "\(status.stderr)")
        // Each coordinator was given the other: both are ready, one leading, one following.
        var readiness: [String] = []
        for port in [base + 251, base + 252] {
            readiness.append(try await ReplogProcess.curl(URL(string: "http://127.0.0.1:\(port)/ready")!) ?? "")
        }
        #expect(readiness.filter { $0.contains("leading") }.count == 1, "\(readiness)")
        #expect(readiness.filter { $0.contains("following coordinator") }.count == 1, "\(readiness)")
        #expect(status.stdout.components(separatedBy: "VOTING").count - 1 == 3)

        #expect(await cluster.stop(timeout: 30) == 0, "\(cluster.log)")
        #expect(cluster.log.contains("stopped; the data stays in"))
        // Nothing it started is left running.
        let leftovers = try await ReplogProcess.pgrep(directory)
        #expect(leftovers.isEmpty, "processes left running: \(leftovers)")
    }
}
