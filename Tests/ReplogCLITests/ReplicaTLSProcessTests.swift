import Foundation
import ReplogModel
import ReplogNet
import ReplogNetTLS
import ReplogTLS
import ReplogWire
import Testing

/// A TLS replica as a real process: refusals of wrong roles and of TLS failures show in its
/// /metrics, and a changed CA bundle applies to new connections without a restart.
@Suite(.serialized) struct ReplicaTLSProcessTests {
    let directory: String
    let cluster = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"

    init() throws {
        directory =
            FileManager.default.temporaryDirectory.appendingPathComponent("replica-tls-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func run(_ arguments: [[String]]) async throws {
        for arguments in arguments {
            let result = try await ReplogProcess.run(arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
        }
    }

    /// A single-replica cluster on TLS whose trusted CA bundle is `caPath`, with its admin endpoint.
    func startReplica(ca caPath: String, port: Int, adminPort: Int) async throws -> ReplogDaemon {
        let certs = directory + "/certs"
        let replica = try ReplogDaemon(
            [
                "replica", "--path", directory + "/r1", "--listen", "127.0.0.1:\(port)", "--id", "1",
                "--peers", "1=127.0.0.1:\(port)", "--quorum", "1", "--cluster-id", cluster,
                "--cert", certs + "/replica-1.pem", "--key", certs + "/replica-1.key", "--ca", caPath,
                "--admin", "127.0.0.1:\(adminPort)",
            ],
            logPath: directory + "/replica.log"
        )
        let deadline = Date().addingTimeInterval(30)
        while !replica.log.contains("replica listening") && Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        return replica
    }

    /// Connects to the replica as `role`/`id` with the certificate of `certificates`, trusting `ca`.
    func connect(_ port: Int, _ role: NodeRole, _ id: String, in certificates: String, trusting ca: String)
        async throws -> RPCConnection
    {
        let directory = CertificateDirectory(path: certificates)
        var configuration = TLSConfiguration(directory: directory, role: role, id: id)
        configuration.trustedCertificateAuthoritiesPath = ca
        return try await RPCConnection.connect(
            host: "127.0.0.1",
            port: port,
            identity: PeerIdentity(clusterID: ClusterID(cluster)!, role: role, nodeID: id),
            security: .mutualTLS(try TLSContextProvider(configuration: configuration))
        )
    }

    /// The value of `name{reason="reason"}` in Prometheus text, or nil.
    func metric(_ name: String, reason: String, in text: String) -> Double? {
        for line in text.split(separator: "\n")
        where line.hasPrefix(name + "{") && line.contains("reason=\"\(reason)\"") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    @Test func wrongRolesAndTLSFailuresAreRefusedAndCountedInTheReplicasMetrics() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certs = directory + "/certs"
        try await run([
            ["certs", "create-ca", "--dir", certs],
            ["certs", "create-node", "--dir", certs, "--role", "replica", "--id", "1", "--host", "127.0.0.1"],
            ["certs", "create-client", "--dir", certs, "--name", "alice"],
            ["certs", "create-client", "--dir", certs, "--name", "ops", "--tool"],
            ["initialize", "--path", directory + "/r1"],
        ])
        let (port, adminPort) = (try freePort(), try freePort())
        let replica = try await startReplica(ca: certs + "/ca.pem", port: port, adminPort: adminPort)
        do {
            // A client certificate: refused at the hello with a typed error, before any Paxos traffic.
            await #expect {
                _ = try await connect(port, .client, "alice", in: certs, trusting: certs + "/ca.pem")
            } throws: { error in
                guard case RPCError.refused(let reply, _) = error else { return false }
                return reply.code == .roleNotAllowed && reply.text.contains("does not serve clients")
            }
            // A tool may ask the status; its Paxos request is refused and the connection closed.
            let tool = try await connect(port, .tool, "ops", in: certs, trusting: certs + "/ca.pem")
            guard case .statusResponse(let status) = try await tool.request(.statusRequest) else {
                throw CocoaError(.userCancelled)
            }
            #expect(status.replicas.first?.id == "1")
            await #expect {
                _ = try await tool.request(.promiseRequest(PromiseRequest(proposal: 1 << 40, position: nil)))
            } throws: { error in
                (error as? ErrorReply)?.code == .roleNotAllowed
            }
            try await tool.closeFuture.get()
            // Plaintext on the TLS port: a TLS failure.
            await #expect(throws: (any Error).self) {
                _ = try await RPCConnection.connect(
                    host: "127.0.0.1",
                    port: port,
                    identity: PeerIdentity(clusterID: ClusterID(cluster)!, role: .coordinator, nodeID: "101"),
                    security: .plaintext
                )
            }
            let url = URL(string: "http://127.0.0.1:\(adminPort)/metrics")!
            var metrics = ""
            let deadline = Date().addingTimeInterval(10)
            while metric("replog_tls_errors_total", reason: "plaintext_peer", in: metrics) == nil && Date() < deadline {
                try await Task.sleep(for: .milliseconds(100))
                metrics = try await ReplogProcess.curl(url) ?? ""
            }
            #expect(metric("replog_rpc_refusals_total", reason: "role_not_allowed", in: metrics) == 2, "\(metrics)")
            #expect(metric("replog_tls_errors_total", reason: "plaintext_peer", in: metrics) == 1, "\(metrics)")
            #expect(replica.log.contains("refused a request its role may not send"), "\(replica.log)")
        } catch {
            _ = await replica.stop()
            throw error
        }
        #expect(await replica.stop() == 0)
    }

    /// etcd reloads certificates per connection but not its CA bundle; here the bundle counts too.
    @Test func aChangedCABundleAppliesToNewConnectionsWithoutARestart() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (certs, other) = (directory + "/certs", directory + "/other")
        try await run([
            ["certs", "create-ca", "--dir", certs],
            ["certs", "create-node", "--dir", certs, "--role", "replica", "--id", "1", "--host", "127.0.0.1"],
            ["certs", "create-client", "--dir", certs, "--name", "ops", "--tool"],
            ["certs", "create-ca", "--dir", other],
            ["certs", "create-client", "--dir", other, "--name", "ops2", "--tool"],
            ["initialize", "--path", directory + "/r1"],
        ])
        let (first, second) = (
            try String(contentsOfFile: certs + "/ca.pem", encoding: .utf8),
            try String(contentsOfFile: other + "/ca.pem", encoding: .utf8)
        )
        // Both tools trust the replica's CA; the replica's bundle decides which tool it trusts.
        let bundle = directory + "/bundle.pem"
        try first.write(toFile: bundle, atomically: true, encoding: .utf8)
        let (port, adminPort) = (try freePort(), try freePort())
        let replica = try await startReplica(ca: bundle, port: port, adminPort: adminPort)
        func accepted(_ id: String, in certificates: String) async -> Bool {
            guard let connection = try? await connect(port, .tool, id, in: certificates, trusting: certs + "/ca.pem")
            else { return false }
            defer { Task { await connection.close() } }
            return (try? await connection.request(.statusRequest)) != nil
        }
        func waitForReload(_ count: Int) async throws {
            let deadline = Date().addingTimeInterval(20)
            while replica.log.components(separatedBy: "TLS material reloaded").count - 1 < count && Date() < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(replica.log.components(separatedBy: "TLS material reloaded").count - 1 == count, "\(replica.log)")
        }
        do {
            #expect(await accepted("ops", in: certs))
            #expect(await !accepted("ops2", in: other))

            // Both CAs in the bundle (the first step of a CA rotation), then SIGHUP.
            try (first + second).write(toFile: bundle, atomically: true, encoding: .utf8)
            kill(replica.process.processIdentifier, SIGHUP)
            try await waitForReload(1)
            #expect(await accepted("ops2", in: other))
            #expect(await accepted("ops", in: certs))

            // The old CA leaves the bundle; the file change alone is noticed (checked every 5 s).
            try second.write(toFile: bundle, atomically: true, encoding: .utf8)
            try await waitForReload(2)
            #expect(replica.log.contains("tls/trigger=\"file change\""), "\(replica.log)")
            #expect(await !accepted("ops", in: certs))
            #expect(await accepted("ops2", in: other))
        } catch {
            _ = await replica.stop()
            throw error
        }
        #expect(await replica.stop() == 0)
    }
}
