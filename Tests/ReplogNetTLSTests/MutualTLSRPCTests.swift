import Foundation
import Logging
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ReplogModel
import ReplogNet
import ReplogNetTLS
import ReplogTLS
import ReplogWire
import Testing

@Suite("RPC over mutual TLS")
struct MutualTLSRPCTests {
    let root: String
    let directory: CertificateDirectory
    let cluster = ClusterID(high: 7, low: 7)

    init() throws {
        root = NSTemporaryDirectory() + "replog-nettls-\(UUID().uuidString)"
        directory = CertificateDirectory(path: root)
        let now = UTCTime.now()
        try directory.createCertificateAuthority(now: now)
        try directory.createCertificate(role: .replica, id: "r1", hosts: ["127.0.0.1"], now: now)
        try directory.createCertificate(role: .coordinator, id: "c1", hosts: ["127.0.0.1"], now: now)
        try directory.createCertificate(role: .client, id: "alice", hosts: [], now: now)
    }

    func security(_ role: NodeRole, _ id: String) throws -> TransportSecurity {
        .mutualTLS(try TLSContextProvider(configuration: TLSConfiguration(directory: directory, role: role, id: id)))
    }

    func server(
        security: TransportSecurity? = nil,
        logger: Logger = Logger(label: "test")
    ) async throws -> RPCServer {
        try await RPCServer.bind(
            host: "127.0.0.1",
            port: 0,
            identity: PeerIdentity(clusterID: cluster, role: .replica, nodeID: "r1"),
            allowedRoles: [.coordinator, .replica],
            security: try security ?? self.security(.replica, "r1"),
            logger: Logger(label: "test")
        ) { _, _ in .positionsResponse(PositionsResponse(begin: 0, end: 42)) }
    }

    @Test func requestsFlowWhenHelloMatchesCertificate() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let server = try await server()
        do {
            let connection = try await RPCConnection.connect(
                host: "127.0.0.1",
                port: server.localAddress.port!,
                identity: PeerIdentity(clusterID: cluster, role: .coordinator, nodeID: "c1"),
                security: try security(.coordinator, "c1")
            )
            let answer = try await connection.request(.positionsRequest)
            #expect(answer == .positionsResponse(PositionsResponse(begin: 0, end: 42)))
            await connection.close()
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }

    @Test func helloClaimingAnotherRoleThanTheCertificateIsRefused() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let server = try await server()
        await #expect {
            _ = try await RPCConnection.connect(
                host: "127.0.0.1",
                port: server.localAddress.port!,
                identity: PeerIdentity(clusterID: cluster, role: .coordinator, nodeID: "alice"),
                security: try security(.client, "alice")
            )
        } throws: { error in
            guard case RPCError.refused(let reply, _) = error else { return false }
            return reply.code == .roleNotAllowed && reply.text.contains("certificate is for client alice")
        }
        await server.close()
    }

    @Test func plaintextClientIsRefusedWithAWarningLogLine() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let lines = NIOLockedValueBox<[String]>([])
        let logger = Logger(label: "tls-test") { _ in CollectingLogHandler(lines: lines) }
        let provider = try TLSContextProvider(
            configuration: TLSConfiguration(directory: directory, role: .replica, id: "r1")
        )
        let server = try await server(security: .mutualTLS(provider, logger: logger))
        await #expect(throws: (any Error).self) {
            _ = try await RPCConnection.connect(
                host: "127.0.0.1",
                port: server.localAddress.port!,
                identity: PeerIdentity(clusterID: cluster, role: .coordinator, nodeID: "c1"),
                security: .plaintext
            )
        }
        let deadline = Date().addingTimeInterval(10)
        while !lines.withLockedValue({ $0.contains { $0.contains("plaintext_peer") } }) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let logged = lines.withLockedValue { $0 }
        #expect(
            logged.contains { $0.hasPrefix("warning TLS connection failed") && $0.contains("plaintext_peer") },
            "\(logged)"
        )
        await server.close()
    }

    @Test func tlsClientAgainstAPlaintextServerIsRefusedNotLeftWaiting() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let server = try await server(security: .plaintext)
        do {
            _ = try await RPCConnection.connect(
                host: "127.0.0.1",
                port: server.localAddress.port!,
                identity: PeerIdentity(clusterID: cluster, role: .coordinator, nodeID: "c1"),
                security: try security(.coordinator, "c1")
            )
            Issue.record("a TLS client connected to a plaintext server")
        } catch {
            // Refused because of what the server sent, not by waiting out the hello timeout.
            if case TLSError.plaintextPeer = error {
            } else {
                Issue.record("expected a plaintext-peer refusal, got: \(error)")
            }
        }
        await server.close()
    }

    @Test func tlsRefusalsReachTheConnectingClientWithTheirReason() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let other = CertificateDirectory(path: root + "/other")
        try other.createCertificateAuthority(now: UTCTime.now())
        try other.createCertificate(role: .coordinator, id: "c9", hosts: ["127.0.0.1"], now: UTCTime.now())
        let server = try await server()
        // Our certificate is from another CA: the server refuses it with an unknown_ca alert.
        var foreign = TLSConfiguration(directory: other, role: .coordinator, id: "c9")
        foreign.trustedCertificateAuthoritiesPath = directory.caCertificatePath
        await #expect {
            _ = try await RPCConnection.connect(
                host: "127.0.0.1",
                port: server.localAddress.port!,
                identity: PeerIdentity(clusterID: cluster, role: .coordinator, nodeID: "c9"),
                security: .mutualTLS(try TLSContextProvider(configuration: foreign))
            )
        } throws: { error in
            guard case TLSError.alertReceived(alert: 48, _) = error else { return false }
            return true
        }
        // We do not trust the server's CA.
        var distrustful = TLSConfiguration(directory: directory, role: .coordinator, id: "c1")
        distrustful.trustedCertificateAuthoritiesPath = other.caCertificatePath
        await #expect {
            _ = try await RPCConnection.connect(
                host: "127.0.0.1",
                port: server.localAddress.port!,
                identity: PeerIdentity(clusterID: cluster, role: .coordinator, nodeID: "c1"),
                security: .mutualTLS(try TLSContextProvider(configuration: distrustful))
            )
        } throws: { error in
            guard case TLSError.peerCertificateRejected(.unknownIssuer, _) = error else { return false }
            return true
        }
        await server.close()
    }

    @Test func helloCheckIsStrict() {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let hello = Hello(clusterID: cluster, role: .replica, nodeID: "r1", maxFrameSize: 1 << 20)
        #expect(HelloCertificateCheck.refusal(hello: hello, certificate: nil)?.code == .roleNotAllowed)
        let matching = CertificateIdentity(role: .replica, id: "r1", subject: "CN=replica-r1")
        #expect(HelloCertificateCheck.refusal(hello: hello, certificate: matching) == nil)
        let otherID = CertificateIdentity(role: .replica, id: "r2", subject: "CN=replica-r2")
        #expect(HelloCertificateCheck.refusal(hello: hello, certificate: otherID)?.code == .roleNotAllowed)
    }

    /// A replica's port (as `replog replica` binds it): every role passes TLS, so the RPC layer
    /// answers a wrong role with a typed error, closes, and counts it.
    @Test func aWrongRoleGetsATypedRefusalAClosedConnectionAndIsCounted() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try directory.createCertificate(role: .tool, id: "backup", hosts: [], now: UTCTime.now())
        let metrics = TestMetrics()
        var options = ConnectionOptions()
        options.metricsFactory = metrics
        var configuration = TLSConfiguration(directory: directory, role: .replica, id: "r1")
        configuration.metricsFactory = metrics
        let handled = NIOLockedValueBox<[MessageType]>([])
        let server = try await RPCServer.bind(
            host: "127.0.0.1",
            port: 0,
            identity: PeerIdentity(clusterID: cluster, role: .replica, nodeID: "r1"),
            allowedRoles: [.replica, .coordinator, .tool],
            permissions: RolePermissions.unrestricted.restricting(.tool, to: [.statusRequest]),
            security: .mutualTLS(try TLSContextProvider(configuration: configuration)),
            options: options,
            logger: Logger(label: "test")
        ) { _, message in
            handled.withLockedValue { $0.append(message.type) }
            return .positionsResponse(PositionsResponse(begin: 0, end: 42))
        }
        func refusals() -> Int64 {
            metrics.counters.filter { $0.label == "replog_rpc_refusals_total" }
                .filter { $0.dimensions.contains { $0 == ("reason", "role_not_allowed") } }
                .reduce(0) { $0 + $1.totalValue }
        }
        do {
            // A client certificate: refused at the hello, before it can send any Paxos traffic.
            await #expect {
                _ = try await RPCConnection.connect(
                    host: "127.0.0.1",
                    port: server.localAddress.port!,
                    identity: PeerIdentity(clusterID: cluster, role: .client, nodeID: "alice"),
                    security: try security(.client, "alice")
                )
            } throws: { error in
                guard case RPCError.refused(let reply, _) = error else { return false }
                return reply.code == .roleNotAllowed && reply.text.contains("does not serve clients")
            }
            #expect(refusals() == 1)

            // A tool may ask the status, but its promise request is refused and the connection closed.
            let tool = try await RPCConnection.connect(
                host: "127.0.0.1",
                port: server.localAddress.port!,
                identity: PeerIdentity(clusterID: cluster, role: .tool, nodeID: "backup"),
                security: try security(.tool, "backup")
            )
            #expect(try await tool.request(.statusRequest) == .positionsResponse(PositionsResponse(begin: 0, end: 42)))
            await #expect {
                _ = try await tool.request(.promiseRequest(PromiseRequest(proposal: 99, position: nil)))
            } throws: { error in
                guard let reply = error as? ErrorReply else { return false }
                return reply.code == .roleNotAllowed && reply.text.contains("tool backup may not send PromiseRequest")
            }
            try await tool.closeFuture.get()
            #expect(!tool.isActive)
            #expect(refusals() == 2)
            #expect(handled.withLockedValue { $0 } == [.statusRequest])
            // No TLS failure was involved: these are refusals of the RPC layer.
            #expect(!metrics.counters.contains { $0.label == "replog_tls_errors_total" })
        } catch {
            await server.close()
            throw error
        }
        await server.close()
    }

}

/// Keeps every log line as "level message metadata".
struct CollectingLogHandler: LogHandler {
    let lines: NIOLockedValueBox<[String]>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        lines.withLockedValue { $0.append("\(event.level) \(event.message) \(fields.joined(separator: " "))") }
    }
}
