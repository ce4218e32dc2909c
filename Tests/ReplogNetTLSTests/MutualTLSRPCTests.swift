import Foundation
import Logging
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

    func server() async throws -> RPCServer {
        try await RPCServer.bind(
            host: "127.0.0.1",
            port: 0,
            identity: PeerIdentity(clusterID: cluster, role: .replica, nodeID: "r1"),
            allowedRoles: [.coordinator, .replica],
            security: try security(.replica, "r1"),
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
