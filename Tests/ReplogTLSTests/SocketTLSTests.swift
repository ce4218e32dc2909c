import Foundation
import NIOCore
import NIOPosix
import ReplogModel
import ReplogTLS
import Testing

@Suite("TLS over real sockets on 127.0.0.1")
struct SocketTLSTests {
    let fixture: CertificateFixture

    init() throws { fixture = try CertificateFixture() }

    @Test func echoOverMutualTLS() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let server = try await EchoServer(
            group: group,
            provider: fixture.provider(fixture.configuration(.replica, "r1"))
        )
        do {
            let payload = String(repeating: "replog-", count: 50_000)
            let client = try await connectClient(
                group: group,
                port: server.port,
                provider: fixture.provider(fixture.configuration(.coordinator, "c1")),
                expected: payload.utf8.count
            )
            // Written at once, before the handshake has finished.
            try await client.channel.writeAndFlush(ByteBuffer(string: payload))
            let handshake = try await within(10, "handshake", client.outcomes.handshake)
            #expect(handshake.peer.role == .replica && handshake.peer.id == "r1")
            let echoed = try await within(10, "echo", client.outcomes.data)
            #expect(String(buffer: echoed) == payload)
            let serverErrors = server.errors.withLockedValue { $0 }
            #expect(serverErrors.isEmpty)
            try await client.channel.close()
            #expect(server.handshakes.withLockedValue { $0.first?.peer.id } == "c1")
            #expect(server.errors.withLockedValue { $0 }.isEmpty)
        } catch {
            try? await server.stop()
            try? await group.shutdownGracefully()
            throw error
        }
        try await server.stop()
        try await group.shutdownGracefully()
    }

    @Test func plaintextClientIsRefusedAndTheConnectionClosesPromptly() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await EchoServer(
            group: group,
            provider: fixture.provider(fixture.configuration(.replica, "r1"))
        )
        do {
            let channel = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: server.port).get()
            try await channel.writeAndFlush(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
            try await within(10, "the server to close a plaintext connection", channel.closeFuture)
            let error = try await server.waitForError()
            #expect(error == .plaintextPeer(firstBytes: [UInt8(ascii: "G")]))
        } catch {
            try? await server.stop()
            try? await group.shutdownGracefully()
            throw error
        }
        try await server.stop()
        try await group.shutdownGracefully()
    }

    @Test func reloadRotatesCAAndCertificatesForNewConnections() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // The rotation happens in a directory of its own; the old client material is kept aside.
        let live = CertificateDirectory(path: fixture.root + "/live")
        let old = CertificateDirectory(path: fixture.root + "/old")
        try live.createCertificateAuthority(now: fixture.now)
        try live.createCertificate(role: .replica, id: "r1", hosts: ["127.0.0.1"], now: fixture.now)
        try live.createCertificate(role: .client, id: "alice", hosts: [], now: fixture.now)
        try FileManager.default.copyItem(atPath: live.path, toPath: old.path)
        let serverProvider = try fixture.provider(TLSConfiguration(directory: live, role: .replica, id: "r1"))
        let server = try await EchoServer(group: group, provider: serverProvider)
        do {
            let oldClient = try fixture.provider(TLSConfiguration(directory: old, role: .client, id: "alice"))
            let before = try await connectClient(group: group, port: server.port, provider: oldClient, expected: 6)
            _ = try await within(10, "handshake before rotation", before.outcomes.handshake)
            #expect(try serverProvider.reloadIfChanged() == false)

            try live.createCertificateAuthority(now: fixture.now, force: true)
            try live.createCertificate(role: .replica, id: "r1", hosts: ["127.0.0.1"], now: fixture.now, force: true)
            try live.createCertificate(role: .client, id: "alice", hosts: [], now: fixture.now, force: true)
            #expect(try serverProvider.reloadIfChanged() == true)

            // The connection made before keeps working with the material it was made with.
            try await before.channel.writeAndFlush(ByteBuffer(string: "still!"))
            #expect(
                String(buffer: try await within(10, "echo on the old connection", before.outcomes.data)) == "still!"
            )

            let newClient = try fixture.provider(TLSConfiguration(directory: live, role: .client, id: "alice"))
            let fresh = try await connectClient(group: group, port: server.port, provider: newClient, expected: 3)
            try await fresh.channel.writeAndFlush(ByteBuffer(string: "new"))
            #expect(String(buffer: try await within(10, "echo with new material", fresh.outcomes.data)) == "new")

            // Old material is refused: the old client does not trust the new CA...
            let stale = try await connectClient(group: group, port: server.port, provider: oldClient, expected: 1)
            guard
                case .peerCertificateRejected(.unknownIssuer, _) = try await within(10, "refusal", stale.outcomes.error)
            else {
                Issue.record("old client accepted the new server certificate")
                throw TimedOut(what: "nothing")
            }
            // ...and the server no longer trusts the old CA's client certificate.
            var oldClientTrustingNew = TLSConfiguration(directory: old, role: .client, id: "alice")
            oldClientTrustingNew.trustedCertificateAuthoritiesPath = live.caCertificatePath
            let oldCertificate = try await connectClient(
                group: group,
                port: server.port,
                provider: fixture.provider(oldClientTrustingNew),
                expected: 1
            )
            guard case .alertReceived(alert: 48, _) = try await within(10, "alert", oldCertificate.outcomes.error)
            else {
                Issue.record("old client certificate not refused with unknown_ca")
                throw TimedOut(what: "nothing")
            }
            _ = try await server.waitForError { error in
                if case .peerCertificateRejected(.unknownIssuer, _) = error { true } else { false }
            }
            try await before.channel.close()
        } catch {
            try? await server.stop()
            try? await group.shutdownGracefully()
            throw error
        }
        try await server.stop()
        try await group.shutdownGracefully()
    }

    @Test func reloadWithBrokenFilesKeepsTheOldContext() throws {
        let live = CertificateDirectory(path: fixture.root + "/broken")
        try live.createCertificateAuthority(now: fixture.now)
        try live.createCertificate(role: .replica, id: "r1", hosts: ["127.0.0.1"], now: fixture.now)
        let provider = try fixture.provider(TLSConfiguration(directory: live, role: .replica, id: "r1"))
        let before = provider.current
        try "not a key".write(toFile: live.keyPath(role: .replica, id: "r1"), atomically: true, encoding: .utf8)
        #expect(throws: TLSError.self) { try provider.reloadIfChanged() }
        #expect(provider.current === before)
    }
}
