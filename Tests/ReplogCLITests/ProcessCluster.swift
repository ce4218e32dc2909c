import Foundation
import NIOCore
import ReplogClient
import ReplogModel
import ReplogNet
import ReplogNetTLS
import Testing

/// A TLS cluster of real `replog replica` and `replog coordinator` processes on 127.0.0.1, with
/// its certificates and clients. Tests must call ``stop()`` (it stops every process it started).
final class ProcessCluster: @unchecked Sendable {
    let directory: String
    let cluster = "7a6b5c4d-3e2f-1a0b-9c8d-7e6f5a4b3c2d"
    let replicaIDs: [Int]
    let coordinatorIDs: [Int]
    let failoverTimeout: Int
    private(set) var replicaPorts: [Int: Int] = [:]
    private(set) var replicaAdminPorts: [Int: Int] = [:]
    private(set) var coordinatorPorts: [Int: Int] = [:]
    private(set) var coordinatorAdminPorts: [Int: Int] = [:]
    private(set) var replicas: [Int: ReplogDaemon] = [:]
    private(set) var coordinators: [Int: ReplogDaemon] = [:]
    private var generation = 0

    var certs: String { directory + "/certs" }

    init(replicas: Int = 3, coordinators: Int = 2, failoverTimeout: Int = 1000) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        replicaIDs = Array(1...replicas)
        coordinatorIDs = (1...coordinators).map { 100 + $0 }
        self.failoverTimeout = failoverTimeout
        for id in replicaIDs {
            replicaPorts[id] = try freePort()
            replicaAdminPorts[id] = try freePort()
        }
        for id in coordinatorIDs {
            coordinatorPorts[id] = try freePort()
            coordinatorAdminPorts[id] = try freePort()
        }
    }

    /// Certificates, initialized stores, every replica and coordinator started; returns once a
    /// coordinator leads over VOTING replicas.
    func start() async throws {
        try await run(["certs", "create-ca", "--dir", certs])
        for id in replicaIDs {
            try await run(["certs", "create-node", "--dir", certs, "--role", "replica", "--id", "\(id)"] + localhost)
            try await run(["initialize", "--path", replicaPath(id)])
        }
        for id in coordinatorIDs {
            try await run(
                ["certs", "create-node", "--dir", certs, "--role", "coordinator", "--id", "\(id)"] + localhost
            )
        }
        try await run(["certs", "create-client", "--dir", certs, "--name", "tester"])
        for id in replicaIDs { try startReplica(id) }
        for id in coordinatorIDs { try startCoordinator(id) }
        try await waitUntil("a coordinator leads", timeout: 60) { await self.leader() != nil }
    }

    private var localhost: [String] { ["--host", "127.0.0.1"] }

    private func run(_ arguments: [String]) async throws {
        let result = try await ReplogProcess.run(arguments)
        guard result.status == 0 else {
            throw ClusterError("replog \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        }
    }

    func replicaPath(_ id: Int) -> String { "\(directory)/replica-\(id)" }

    var peers: String { replicaIDs.map { "\($0)=127.0.0.1:\(replicaPorts[$0]!)" }.joined(separator: ",") }

    var coordinatorList: String {
        coordinatorIDs.map { "\($0)=127.0.0.1:\(coordinatorPorts[$0]!)" }.joined(separator: ",")
    }

    var coordinatorEndpoints: [Endpoint] {
        coordinatorIDs.map { Endpoint(host: "127.0.0.1", port: coordinatorPorts[$0]!) }
    }

    private func tls(_ name: String) -> [String] {
        ["--cert", "\(certs)/\(name).pem", "--key", "\(certs)/\(name).key", "--ca", "\(certs)/ca.pem"]
    }

    private func nextLog(_ name: String) -> String {
        generation += 1
        return "\(directory)/\(name)-\(generation).log"
    }

    func startReplica(_ id: Int) throws {
        replicas[id] = try ReplogDaemon(
            [
                "replica", "--path", replicaPath(id), "--listen", "127.0.0.1:\(replicaPorts[id]!)", "--id", "\(id)",
                "--peers", peers, "--cluster-id", cluster, "--admin", "127.0.0.1:\(replicaAdminPorts[id]!)",
            ] + tls("replica-\(id)"),
            logPath: nextLog("replica-\(id)")
        )
    }

    /// Starts a coordinator; its list of the others comes from `REPLOG_COORDINATORS`, as an
    /// operator's environment or compose file would give it.
    func startCoordinator(_ id: Int) throws {
        coordinators[id] = try ReplogDaemon(
            [
                "coordinator", "--listen", "127.0.0.1:\(coordinatorPorts[id]!)", "--id", "\(id)",
                "--replicas", peers, "--cluster-id", cluster, "--admin", "127.0.0.1:\(coordinatorAdminPorts[id]!)",
                "--failover-timeout", "\(failoverTimeout)",
            ] + tls("coordinator-\(id)"),
            logPath: nextLog("coordinator-\(id)"),
            environment: ["REPLOG_COORDINATORS": coordinatorList]
        )
    }

    /// The client environment for `replog append | read | status` against this cluster.
    var clientEnvironment: [String: String] {
        [
            "REPLOG_COORDINATOR": coordinatorEndpoints.map(\.description).joined(separator: ","),
            "REPLOG_CERT": "\(certs)/client-tester.pem", "REPLOG_KEY": "\(certs)/client-tester.key",
            "REPLOG_CA": "\(certs)/ca.pem",
        ]
    }

    /// A client that knows every coordinator.
    func client() throws -> ReplogClient {
        var configuration = ClientConfiguration(
            coordinators: coordinatorEndpoints,
            name: "tester",
            security: try .mutualTLS(
                certificatePath: "\(certs)/client-tester.pem",
                keyPath: "\(certs)/client-tester.key",
                caPath: "\(certs)/ca.pem",
                allowedPeerRoles: [.coordinator]
            )
        )
        configuration.operationTimeout = .seconds(60)
        return ReplogClient(configuration: configuration)
    }

    /// The admin endpoint's `/status` JSON.
    func status(adminPort: Int) async -> [String: Any]? {
        guard let url = URL(string: "http://127.0.0.1:\(adminPort)/status"),
            let body = try? await ReplogProcess.curl(url)
        else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
    }

    func replicaStatus(_ id: Int) async -> [String: Any]? { await status(adminPort: replicaAdminPorts[id]!) }

    func coordinatorStatus(_ id: Int) async -> [String: Any]? { await status(adminPort: coordinatorAdminPorts[id]!) }

    /// The coordinator whose admin endpoint says it leads, if exactly one does.
    func leader() async -> Int? {
        var leading: [Int] = []
        for id in coordinatorIDs where coordinators[id]?.process.isRunning == true {
            if await coordinatorStatus(id)?["leading"] as? Bool == true { leading.append(id) }
        }
        return leading.count == 1 ? leading[0] : nil
    }

    /// `/ready` of an admin endpoint: the first line of the answer ("ready ..." or the reason).
    func ready(adminPort: Int) async -> String? {
        guard let url = URL(string: "http://127.0.0.1:\(adminPort)/ready") else { return nil }
        return try? await ReplogProcess.curl(url)
    }

    func waitUntil(
        _ what: String,
        timeout: TimeInterval,
        _ condition: () async -> Bool
    ) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ClusterError("timed out after \(timeout) s waiting until \(what)\n\(logs())")
    }

    func stopReplica(_ id: Int) async -> Int32? { await replicas[id]?.stop() }

    /// SIGKILL: the process gets no chance to tidy up, as in a crash.
    func killCoordinator(_ id: Int) async {
        guard let process = coordinators[id]?.process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        _ = await ReplogDaemon.wait(for: process, timeout: 10)
    }

    /// The learned APPEND entries of a stopped replica's store, by position, from
    /// `replog read --path DIR --json`.
    func storedEntries(_ id: Int) async throws -> [UInt64: String] {
        let read = try await ReplogProcess.run(["read", "--path", replicaPath(id), "--json"])
        guard read.status == 0 else { throw ClusterError("replog read --path failed: \(read.stderr)") }
        var entries: [UInt64: String] = [:]
        for line in read.stdout.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["type"] as? String == "APPEND", object["learned"] as? Bool == true,
                let position = object["position"] as? NSNumber, let text = object["text"] as? String
            else { continue }
            entries[position.uint64Value] = text
        }
        return entries
    }

    /// Stops every process (SIGTERM, then SIGKILL if one hangs); returns the processes that did
    /// not exit with status 0, by name.
    @discardableResult
    func stop() async -> [String] {
        var unclean: [String] = []
        for (id, daemon) in coordinators.sorted(by: { $0.key < $1.key }) where daemon.process.isRunning {
            if await daemon.stop() != 0 { unclean.append("coordinator \(id)") }
        }
        for (id, daemon) in replicas.sorted(by: { $0.key < $1.key }) where daemon.process.isRunning {
            if await daemon.stop() != 0 { unclean.append("replica \(id)") }
        }
        return unclean
    }

    func removeFiles() { try? FileManager.default.removeItem(atPath: directory) }

    /// Every process's log, for failure messages.
    func logs() -> String {
        (replicas.sorted { $0.key < $1.key }.map { ("replica \($0.key)", $0.value) }
            + coordinators.sorted { $0.key < $1.key }.map { ("coordinator \($0.key)", $0.value) })
            .map { "--- \($0.0):\n\($0.1.log.suffix(4000))" }.joined(separator: "\n")
    }
}

struct ClusterError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Appends unique entries from one client until told to stop, recording what was acknowledged
/// and when.
actor AppendLoad {
    struct Acknowledged: Sendable {
        var position: UInt64
        var text: String
        /// When the append was sent, and when it was acknowledged.
        var sent: ContinuousClock.Instant
        var at: ContinuousClock.Instant
    }

    private(set) var acknowledged: [Acknowledged] = []
    private(set) var failures: [String] = []
    private var running = true

    func stop() { running = false }

    func record(_ entry: Acknowledged) { acknowledged.append(entry) }

    func fail(_ text: String) { failures.append(text) }

    var isRunning: Bool { running }

    /// Runs `clients` loops that each append `name-client-n` entries one at a time.
    nonisolated func run(clients: [ReplogClient], name: String) -> Task<Void, Never> {
        Task {
            await withTaskGroup(of: Void.self) { group in
                for (index, client) in clients.enumerated() {
                    group.addTask {
                        var sequence = 0
                        while await self.isRunning {
                            let text = "\(name)-\(index)-\(sequence)"
                            sequence += 1
                            do {
                                let sent = ContinuousClock.now
                                let position = try await client.append(ByteBuffer(string: text))
                                await self.record(Acknowledged(position: position, text: text, sent: sent, at: .now))
                            } catch {
                                await self.fail("\(text): \(error)")
                            }
                        }
                    }
                }
            }
        }
    }
}
