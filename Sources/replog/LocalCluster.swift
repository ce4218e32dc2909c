import ArgumentParser
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import ReplogClient
import ReplogModel
import ReplogNet
import ReplogNetTLS
import ReplogWire

/// `replog local-cluster`: the README's first quick-start command. Creates a CA and
/// certificates, initializes the replicas' stores, starts the replicas and coordinators as
/// processes on 127.0.0.1 with mutual TLS, shows the cluster working, prints the commands to use
/// it, and stops everything on Ctrl-C (or SIGTERM).
struct LocalCluster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local-cluster",
        abstract: "Start a local TLS cluster on 127.0.0.1 and show it working; Ctrl-C stops it."
    )

    @Option(help: "Number of replicas: 3 or 5.")
    var replicas = 3

    @Option(help: "Number of coordinators.")
    var coordinators = 1

    @Option(help: "Directory for certificates, stores and logs (kept between runs).")
    var dir = "replog-local"

    @Option(
        help: "First port: replicas listen on BASE+1..., coordinators on BASE+101..., admin endpoints on BASE+201..."
    )
    var basePort = 7000

    func validate() throws {
        guard replicas == 3 || replicas == 5 else { throw ValidationError("--replicas is 3 or 5") }
        guard (1...5).contains(coordinators) else { throw ValidationError("--coordinators is 1 to 5") }
        guard (1024...60000).contains(basePort) else { throw ValidationError("--base-port is 1024 to 60000") }
    }

    var replicaIDs: [Int] { Array(1...replicas) }
    var coordinatorIDs: [Int] { (1...coordinators).map { 100 + $0 } }
    var certs: String { dir + "/certs" }

    func run() async throws {
        let signals = TerminationSignals()
        let binary = try Self.ownExecutable()
        try FileManager.default.createDirectory(atPath: dir + "/logs", withIntermediateDirectories: true)
        let cluster = try clusterID()
        try makeCertificates(binary: binary)
        for id in replicaIDs where !FileManager.default.fileExists(atPath: "\(dir)/replica-\(id)") {
            try Self.runQuietly(binary, ["initialize", "--path", "\(dir)/replica-\(id)"])
        }
        let peers = replicaIDs.map { "\($0)=127.0.0.1:\(basePort + $0)" }.joined(separator: ",")
        var children: [Process] = []
        func stopAll() {
            for child in children where child.isRunning { child.terminate() }
            for child in children { child.waitUntilExit() }
        }
        do {
            for id in replicaIDs {
                children.append(
                    try Self.start(
                        binary,
                        [
                            "replica", "--path", "\(dir)/replica-\(id)", "--listen", "127.0.0.1:\(basePort + id)",
                            "--id", "\(id)", "--peers", peers, "--cluster-id", cluster.description,
                            "--cert", "\(certs)/replica-\(id).pem", "--key", "\(certs)/replica-\(id).key",
                            "--ca", "\(certs)/ca.pem", "--admin", "127.0.0.1:\(basePort + 200 + id)",
                        ],
                        log: "\(dir)/logs/replica-\(id).log"
                    )
                )
            }
            let coordinators = coordinatorIDs.enumerated().map { "\($1)=127.0.0.1:\(basePort + 101 + $0)" }
                .joined(separator: ",")
            for (index, id) in coordinatorIDs.enumerated() {
                children.append(
                    try Self.start(
                        binary,
                        [
                            "coordinator", "--listen", "127.0.0.1:\(basePort + 101 + index)", "--id", "\(id)",
                            "--replicas", peers, "--coordinators", coordinators, "--cluster-id", cluster.description,
                            "--cert", "\(certs)/coordinator-\(id).pem", "--key", "\(certs)/coordinator-\(id).key",
                            "--ca", "\(certs)/ca.pem", "--admin", "127.0.0.1:\(basePort + 251 + index)",
                        ],
                        log: "\(dir)/logs/coordinator-\(id).log"
                    )
                )
            }
        } catch {
            stopAll()
            throw error
        }
        let failure = NIOLockedValueBox<(any Error)?>(nil)
        let showing = Task {
            do {
                try await showItWorking(cluster: cluster, binary: binary)
            } catch {
                failure.withLockedValue { $0 = error }
                signals.stop("start-up failed")
            }
        }
        let signal = await signals.next()
        showing.cancel()
        say("\n\(signal): stopping the local cluster...")
        stopAll()
        if let error = failure.withLockedValue({ $0 }) { throw error }
        say("stopped; the data stays in \(dir) for the next run")
    }

    var coordinatorList: String {
        coordinatorIDs.indices.map { "127.0.0.1:\(basePort + 101 + $0)" }.joined(separator: ",")
    }

    func client(cluster: ClusterID) throws -> ReplogClient {
        var configuration = ClientConfiguration(
            coordinators: coordinatorIDs.indices.map { Endpoint(host: "127.0.0.1", port: basePort + 101 + $0) },
            clusterID: cluster,
            name: "local-client",
            security: try .mutualTLS(
                certificatePath: "\(certs)/client-local-client.pem",
                keyPath: "\(certs)/client-local-client.key",
                caPath: "\(certs)/ca.pem",
                allowedPeerRoles: [.coordinator]
            )
        )
        configuration.operationTimeout = .seconds(60)
        return ReplogClient(configuration: configuration)
    }

    /// Waits until every replica is VOTING behind a leader, then appends and reads back.
    func showItWorking(cluster: ClusterID, binary: String) async throws {
        say("starting \(replicas) replicas and \(coordinators) coordinator(s) in \(dir) (logs in \(dir)/logs)...")
        let replog = try client(cluster: cluster)
        defer { Task { await replog.close() } }
        let deadline = ContinuousClock.now + .seconds(90)
        var status: StatusResponse?
        while ContinuousClock.now < deadline {
            if let current = try? await replog.status(), current.leader.isKnown,
                current.replicas.allSatisfy({ $0.reachable && $0.status == .voting })
            {
                status = current
                break
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        guard let status else {
            throw ValidationError("the cluster did not become ready within 90 s; see the logs in \(dir)/logs")
        }
        let position = try await replog.append(ByteBuffer(string: "hello from replog local-cluster"))
        var echoed = ""
        for try await entry in replog.read(from: position, to: position) { echoed = String(buffer: entry.bytes) }
        say(
            """

            replog local cluster \(cluster) is up, with mutual TLS:
              replicas:      \(replicaIDs.map { "127.0.0.1:\(basePort + $0)" }.joined(separator: " "))
              coordinators:  \(coordinatorList)  (leader: \(status.leader.leaderID) at \(status.leader.leaderAddress))
              admin:         http://127.0.0.1:\(basePort + 201)/status ... (replicas from \(basePort + 201),
                             coordinators from \(basePort + 251)): /status, /metrics, /ready, /health
            appended "\(echoed)" at position \(position) and read it back.

            In another shell:
              export REPLOG_COORDINATOR=\(coordinatorList)
              export REPLOG_CERT=\(certs)/client-local-client.pem REPLOG_KEY=\(certs)/client-local-client.key REPLOG_CA=\(certs)/ca.pem
              \(binary) append "my first entry"
              \(binary) read --from 1
              \(binary) status
              \(binary) bench --size 100B --count 10000 --concurrency 64

            Ctrl-C stops the cluster.
            """
        )
    }

    func clusterID() throws -> ClusterID {
        let path = dir + "/cluster-id"
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            guard let id = ClusterID(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw ValidationError("\(path) does not hold a cluster id; remove \(dir) to start afresh")
            }
            return id
        }
        var generator = SystemRandomNumberGenerator()
        let id = ClusterID(high: generator.next(), low: generator.next())
        try (id.description + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return id
    }

    func makeCertificates(binary: String) throws {
        let exists = { (name: String) in FileManager.default.fileExists(atPath: "\(self.certs)/\(name)") }
        if !exists("ca.pem") { try Self.runQuietly(binary, ["certs", "create-ca", "--dir", certs]) }
        for id in replicaIDs where !exists("replica-\(id).pem") {
            try Self.runQuietly(
                binary,
                ["certs", "create-node", "--dir", certs, "--role", "replica", "--id", "\(id)", "--host", "127.0.0.1"]
            )
        }
        for id in coordinatorIDs where !exists("coordinator-\(id).pem") {
            try Self.runQuietly(
                binary,
                [
                    "certs", "create-node", "--dir", certs, "--role", "coordinator", "--id", "\(id)", "--host",
                    "127.0.0.1",
                ]
            )
        }
        if !exists("client-local-client.pem") {
            try Self.runQuietly(binary, ["certs", "create-client", "--dir", certs, "--name", "local-client"])
        }
    }

    /// The path of the running `replog` binary, to start the cluster's processes with.
    static func ownExecutable() throws -> String {
        let path = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw ValidationError("cannot find the replog executable (/proc/self/exe)")
        }
        return path
    }

    static func runQuietly(_ binary: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError(
                "replog \(arguments.joined(separator: " ")) failed: \(String(decoding: text, as: UTF8.self))"
            )
        }
    }

    static func start(_ binary: String, _ arguments: [String], log: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try handle.seekToEnd()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }
}

/// Prints a line at once, even when standard output is a pipe or a file (where `print` buffers
/// until exit): a long-running command's progress must show while it runs.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
