import Foundation
import NIOCore
import NIOPosix
import ReplogModel
import ReplogTLS
import Testing

/// Our TLS against the real `openssl s_server` / `s_client` processes, with mutual TLS.
@Suite("Interop with the openssl command", .serialized)
struct OpenSSLInteropTests {
    let fixture: CertificateFixture
    let openssl = "/usr/bin/openssl"

    init() throws { fixture = try CertificateFixture() }

    @Test func ourClientAgainstOpensslServer() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let port = try await freePort(group: group)
        let cluster = fixture.cluster
        let server = try ChildProcess(
            openssl,
            [
                "s_server", "-accept", "127.0.0.1:\(port)", "-tls1_3", "-rev",
                "-cert", cluster.certificatePath(role: .replica, id: "r1"),
                "-key", cluster.keyPath(role: .replica, id: "r1"),
                "-CAfile", cluster.caCertificatePath, "-Verify", "2", "-verify_return_error",
            ]
        )
        defer { server.stop() }
        do {
            // s_server's output is block-buffered into our pipe, so readiness shows by connecting.
            let client = try await connectWhenListening(
                group: group,
                port: port,
                provider: fixture.provider(fixture.configuration(.coordinator, "c1")),
                expected: "olleh-golper\n".utf8.count
            )
            try await client.channel.writeAndFlush(ByteBuffer(string: "replog-hello\n"))
            let handshake = try await within(10, "handshake with s_server", client.outcomes.handshake)
            #expect(handshake.peer.role == .replica)
            #expect(handshake.protocolVersion == "TLSv1.3")
            let reply = try await within(10, "reversed echo from s_server", client.outcomes.data)
            #expect(String(buffer: reply) == "olleh-golper\n")
            try await client.channel.close()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    /// Retries the connection while s_server is starting (connection refused), for up to 10 s.
    private func connectWhenListening(
        group: any EventLoopGroup,
        port: Int,
        provider: TLSContextProvider,
        expected: Int
    ) async throws -> (channel: any Channel, outcomes: ClientOutcomes) {
        let deadline = Date().addingTimeInterval(10)
        while true {
            do {
                return try await connectClient(group: group, port: port, provider: provider, expected: expected)
            } catch {
                guard Date() < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    @Test func opensslClientAgainstOurServer() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await EchoServer(
            group: group,
            provider: fixture.provider(fixture.configuration(.replica, "r1"))
        )
        let cluster = fixture.cluster
        let client = try ChildProcess(
            openssl,
            [
                "s_client", "-connect", "127.0.0.1:\(server.port)", "-quiet", "-verify_return_error",
                "-verify_ip", "127.0.0.1",
                "-cert", cluster.certificatePath(role: .client, id: "alice"),
                "-key", cluster.keyPath(role: .client, id: "alice"),
                "-CAfile", cluster.caCertificatePath,
            ]
        )
        defer { client.stop() }
        do {
            client.send("echo-from-openssl\n")
            try await client.waitFor("echo-from-openssl\n")
            #expect(
                server.handshakes.withLockedValue { $0.first?.peer }
                    == CertificateIdentity(role: .client, id: "alice", subject: "O = replog, CN = client-alice")
            )
            #expect(server.errors.withLockedValue { $0 }.isEmpty)
        } catch {
            try? await server.stop()
            try? await group.shutdownGracefully()
            throw error
        }
        try await server.stop()
        try await group.shutdownGracefully()
    }

    @Test func opensslClientWithoutCertificateIsRefused() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await EchoServer(
            group: group,
            provider: fixture.provider(fixture.configuration(.replica, "r1"))
        )
        let client = try ChildProcess(
            openssl,
            [
                "s_client", "-connect", "127.0.0.1:\(server.port)", "-quiet", "-verify_return_error",
                "-CAfile", fixture.cluster.caCertificatePath,
            ]
        )
        defer { client.stop() }
        do {
            client.send("let me in\n")
            let error = try await server.waitForError()
            guard case .peerCertificateMissing = error else {
                Issue.record("server error: \(error)")
                throw TimedOut(what: "the missing-certificate refusal")
            }
            // openssl learns it from the certificate_required alert (116) and exits.
            try await client.waitForExit()
            #expect(client.text.contains("certificate required"))
            #expect(server.handshakes.withLockedValue { $0 }.isEmpty)
        } catch {
            try? await server.stop()
            try? await group.shutdownGracefully()
            throw error
        }
        try await server.stop()
        try await group.shutdownGracefully()
    }

    @Test func tls12OnlyWhenAllowed() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var permissive = fixture.configuration(.replica, "r1")
        permissive.minimumVersion = .tls12
        let strict = try await EchoServer(
            group: group,
            provider: fixture.provider(fixture.configuration(.replica, "r1"))
        )
        let lenient = try await EchoServer(group: group, provider: fixture.provider(permissive))
        let cluster = fixture.cluster
        func tls12Client(_ port: Int) throws -> ChildProcess {
            try ChildProcess(
                openssl,
                [
                    "s_client", "-connect", "127.0.0.1:\(port)", "-quiet", "-tls1_2", "-verify_return_error",
                    "-cert", cluster.certificatePath(role: .client, id: "alice"),
                    "-key", cluster.keyPath(role: .client, id: "alice"),
                    "-CAfile", cluster.caCertificatePath,
                ]
            )
        }
        let accepted = try tls12Client(lenient.port)
        defer { accepted.stop() }
        let refused = try tls12Client(strict.port)
        defer { refused.stop() }
        do {
            accepted.send("over-tls12\n")
            try await accepted.waitFor("over-tls12\n")
            #expect(lenient.handshakes.withLockedValue { $0.first?.protocolVersion } == "TLSv1.2")
            let error = try await strict.waitForError()
            guard case .handshakeFailed(let openSSL) = error else {
                Issue.record("strict server error: \(error)")
                throw TimedOut(what: "the TLS 1.2 refusal")
            }
            #expect(openSSL.contains { $0.text.contains("unsupported protocol") }, "\(openSSL)")
        } catch {
            try? await strict.stop()
            try? await lenient.stop()
            try? await group.shutdownGracefully()
            throw error
        }
        try await strict.stop()
        try await lenient.stop()
        try await group.shutdownGracefully()
    }
}
