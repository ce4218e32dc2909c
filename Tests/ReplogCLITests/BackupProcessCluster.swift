import Foundation
import Testing

/// A cluster of real `replog` processes on 127.0.0.1 with mutual TLS: certificates made by
/// `replog certs`, replicas initialized by `replog initialize`, one coordinator. The test starts
/// and stops each process and must call ``stopAll()`` at the end.
final class BackupProcessCluster: @unchecked Sendable {
    let directory: String
    let cluster = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    let replicaPorts: [Int]
    let coordinatorPort: Int
    let coordinatorAdminPort: Int
    private(set) var replicas: [ReplogDaemon?]
    private(set) var coordinator: ReplogDaemon?
    private var logCount = 0

    var certs: String { directory + "/certs" }
    var peers: String { replicaPorts.indices.map { "\($0 + 1)=127.0.0.1:\(replicaPorts[$0])" }.joined(separator: ",") }
    func replicaPath(_ index: Int) -> String { "\(directory)/replica-\(index + 1)" }

    /// The client options of every command that talks to this cluster.
    var clientOptions: [String] {
        [
            "--coordinator", "127.0.0.1:\(coordinatorPort)", "--cert", certs + "/client-operator.pem",
            "--key", certs + "/client-operator.key", "--ca", certs + "/ca.pem",
        ]
    }

    private init(directory: String, replicas: Int) throws {
        self.directory = directory
        replicaPorts = try (0..<replicas).map { _ in try freePort() }
        coordinatorPort = try freePort()
        coordinatorAdminPort = try freePort()
        self.replicas = Array(repeating: nil, count: replicas)
    }

    /// Makes the certificates and initialized stores of a new cluster (nothing runs yet).
    static func make(replicas: Int = 3) async throws -> BackupProcessCluster {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let cluster = try BackupProcessCluster(directory: directory, replicas: replicas)
        var commands = [["certs", "create-ca", "--dir", cluster.certs]]
        for index in 0..<replicas {
            commands.append(
                ["certs", "create-node", "--dir", cluster.certs, "--role", "replica", "--id", "\(index + 1)"]
                    + ["--host", "127.0.0.1"]
            )
        }
        commands.append(
            ["certs", "create-node", "--dir", cluster.certs, "--role", "coordinator", "--id", "101"]
                + ["--host", "127.0.0.1"]
        )
        commands.append(["certs", "create-client", "--dir", cluster.certs, "--name", "operator"])
        for index in 0..<replicas { commands.append(["initialize", "--path", cluster.replicaPath(index)]) }
        for arguments in commands { try await cluster.run(arguments) }
        return cluster
    }

    /// Runs `replog arguments...` and fails the test with its output if it fails.
    @discardableResult
    func run(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws
        -> ReplogProcess.Result
    {
        let result = try await ReplogProcess.run(arguments, timeout: 120)
        #expect(
            result.status == 0,
            "replog \(arguments.joined(separator: " ")): \(result.stderr)",
            sourceLocation: sourceLocation
        )
        return result
    }

    /// Runs a client command against this cluster (`replog <command> <client options> <rest>`).
    func client(_ command: [String], _ rest: [String] = []) async throws -> ReplogProcess.Result {
        try await ReplogProcess.run(command + clientOptions + rest, timeout: 120)
    }

    /// Appends `text` through `replog append`, which must succeed.
    func append(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let result = try await client(["append"], [text])
        #expect(result.status == 0, "append \(text): \(result.stderr)", sourceLocation: sourceLocation)
    }

    private func nextLog(_ name: String) -> String {
        logCount += 1
        return "\(directory)/\(name)-\(logCount).log"
    }

    func startReplica(_ index: Int) throws {
        replicas[index] = try ReplogDaemon(
            [
                "replica", "--path", replicaPath(index), "--listen", "127.0.0.1:\(replicaPorts[index])",
                "--id", "\(index + 1)", "--peers", peers, "--cluster-id", cluster,
                "--cert", certs + "/replica-\(index + 1).pem", "--key", certs + "/replica-\(index + 1).key",
                "--ca", certs + "/ca.pem",
            ],
            logPath: nextLog("replica-\(index + 1)")
        )
    }

    func stopReplica(_ index: Int) async {
        if let daemon = replicas[index] {
            let status = await daemon.stop()
            #expect(status == 0, "replica \(index + 1) did not stop cleanly:\n\(daemon.log)")
        }
        replicas[index] = nil
    }

    func startCoordinator(_ extra: [String] = []) throws {
        coordinator = try ReplogDaemon(
            [
                "coordinator", "--listen", "127.0.0.1:\(coordinatorPort)", "--id", "101", "--replicas", peers,
                "--cluster-id", cluster, "--cert", certs + "/coordinator-101.pem",
                "--key", certs + "/coordinator-101.key", "--ca", certs + "/ca.pem",
                "--admin", "127.0.0.1:\(coordinatorAdminPort)",
            ] + extra,
            logPath: nextLog("coordinator")
        )
    }

    func stopCoordinator() async {
        if let daemon = coordinator {
            let status = await daemon.stop()
            #expect(status == 0, "the coordinator did not stop cleanly:\n\(daemon.log)")
        }
        coordinator = nil
    }

    /// Waits until the coordinator leads (its admin endpoint says it is ready).
    func waitForLeader(seconds: Double = 90) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        let url = URL(string: "http://127.0.0.1:\(coordinatorAdminPort)/status")!
        while Date() < deadline {
            if let body = try await ReplogProcess.curl(url), body.contains(#""leading":true"#) { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("the coordinator did not lead within \(seconds) s:\n\(coordinator?.log ?? "")")
        throw CancellationError()
    }

    /// The coordinator's Prometheus metrics.
    func metrics() async throws -> String {
        try await ReplogProcess.curl(URL(string: "http://127.0.0.1:\(coordinatorAdminPort)/metrics")!) ?? ""
    }

    /// The value of the coordinator's metric `name` (a sample without labels), if it is exported.
    func metric(_ name: String) async throws -> Double? {
        for line in try await metrics().split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == name { return Double(parts[1]) }
        }
        return nil
    }

    /// Stops whatever still runs, and removes the cluster's files.
    func stopAll() async {
        await stopCoordinator()
        for index in replicas.indices { await stopReplica(index) }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
