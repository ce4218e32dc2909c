import Foundation
import Logging
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
