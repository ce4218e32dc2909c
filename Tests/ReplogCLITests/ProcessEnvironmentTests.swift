import Foundation
import Testing

/// `replog replica` and `replog coordinator` take every option from `REPLOG_*` variables or a
/// `--config` file too, as the systemd units and the compose file use them.
@Suite struct ProcessEnvironmentTests {
    let cluster = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

    /// The `--options` a command's help lists, other than --help and --config.
    func helpOptions(_ command: String) async throws -> Set<String> {
        let help = try await ReplogProcess.run([command, "--help"])
        #expect(help.status == 0, "\(help.stderr)")
        let pattern = try NSRegularExpression(pattern: "--([a-z0-9][a-z0-9-]*)")
        let text = help.stdout as NSString
        let names = pattern.matches(in: help.stdout, range: NSRange(location: 0, length: text.length)).map {
            text.substring(with: $0.range(at: 1))
        }
        return Set(names).subtracting(["help", "config"])
    }

    /// The settings a config file may hold, from the error that lists them.
    func configSettings(_ command: String, directory: String) async throws -> Set<String> {
        let file = directory + "/\(command).conf"
        try "no-such-setting = 1\n".write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await ReplogProcess.run([command, "--config", file])
        #expect(result.status != 0)
        guard let range = result.stderr.range(of: "known settings: ") else {
            Issue.record("no list of known settings in: \(result.stderr)")
            return []
        }
        let list = result.stderr[range.upperBound...].prefix { $0 != "\n" }
        return Set(list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
    }

    @Test func everyOptionOfTheProcessesCanComeFromTheEnvironmentOrAFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("env-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for command in ["replica", "coordinator"] {
            let options = try await helpOptions(command)
            #expect(options.contains("cluster-id") && options.contains("listen"))
            #expect(try await configSettings(command, directory: directory) == options, "replog \(command)")
        }
    }

    @Test func aReplicaRunsFromEnvironmentVariablesAndAConfigFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("env-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let initialized = try await ReplogProcess.run(["initialize", "--path", directory + "/store"])
        #expect(initialized.status == 0, "\(initialized.stderr)")
        let (port, admin) = (try freePort(), try freePort())
        try """
        # a replica's settings, as /etc/replog/replica.conf would hold them
        path = \(directory)/store
        listen = 127.0.0.1:\(port)
        peers = "7=127.0.0.1:\(port)"
        log-format = json
        """.write(toFile: directory + "/replica.conf", atomically: true, encoding: .utf8)
        let daemon = try ReplogDaemon(
            ["replica"],
            logPath: directory + "/replica.log",
            environment: [
                "REPLOG_CONFIG": directory + "/replica.conf", "REPLOG_ID": "7", "REPLOG_CLUSTER_ID": cluster,
                "REPLOG_INSECURE": "true", "REPLOG_ADMIN": "127.0.0.1:\(admin)",
            ]
        )
        var ready: String?
        let deadline = Date().addingTimeInterval(30)
        while ready == nil && Date() < deadline {
            try await Task.sleep(for: .milliseconds(200))
            ready = try await ReplogProcess.curl(URL(string: "http://127.0.0.1:\(admin)/status")!)
        }
        let exit = await daemon.stop()
        #expect(ready?.contains("\"id\":7") == true, "status \(ready ?? "none"); log:\n\(daemon.log)")
        #expect(ready?.contains(cluster) == true)
        #expect(daemon.log.hasPrefix("{"), "the config file's log-format applies:\n\(daemon.log)")
        #expect(exit == 0)
    }

    @Test func aCoordinatorTakesItsOptionsFromTheEnvironmentAndTheCommandLineWins() async throws {
        let environment = [
            "REPLOG_ID": "101", "REPLOG_LISTEN": "127.0.0.1:1", "REPLOG_CLUSTER_ID": cluster,
            "REPLOG_REPLICAS": "1=127.0.0.1:2,2=127.0.0.1:3,3=127.0.0.1:4", "REPLOG_QUORUM": "1",
            "REPLOG_INSECURE": "yes",
        ]
        let refused = try await ReplogProcess.run(["coordinator"], environment: environment)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("quorum 1 is not a majority of 3 replicas"), "\(refused.stderr)")
        let flag = try await ReplogProcess.run(["coordinator", "--quorum", "9"], environment: environment)
        #expect(flag.stderr.contains("quorum 9"), "\(flag.stderr)")
    }
}
