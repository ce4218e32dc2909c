import Foundation
import MetricsTestKit
import NIOCore
import NIOEmbedded
import ReplogModel
import ReplogTLS
import Testing

/// Two EmbeddedChannels joined by moving each one's outbound bytes into the other.
struct EmbeddedPair {
    let server: EmbeddedChannel
    let client: EmbeddedChannel
    let serverRecorder = Recorder()
    let clientRecorder = Recorder()
    let serverHandler: TLSHandler
    let clientHandler: TLSHandler

    init(server: TLSConfiguration, client: TLSConfiguration, host: String = "127.0.0.1") throws {
        serverHandler = TLSHandler(provider: try TLSContextProvider(configuration: server), mode: .server)
        clientHandler = TLSHandler(provider: try TLSContextProvider(configuration: client), mode: .client(host: host))
        self.server = EmbeddedChannel()
        self.client = EmbeddedChannel()
        try self.server.pipeline.syncOperations.addHandlers([serverHandler, serverRecorder])
        try self.client.pipeline.syncOperations.addHandlers([clientHandler, clientRecorder])
    }

    func activate() throws {
        try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
    }

    /// Moves bytes until neither side has anything to send; each flight is delivered in one read.
    /// Returns how many flights moved.
    @discardableResult
    func exchange() throws -> Int {
        var flights = 0
        while true {
            var moved = false
            if let bytes = try drain(client) {
                if server.isActive { try server.writeInbound(bytes) }
                moved = true
            }
            if let bytes = try drain(server) {
                if client.isActive { try client.writeInbound(bytes) }
                moved = true
            }
            if !moved { return flights }
            flights += 1
        }
    }

    /// Everything a channel wrote since the last drain, as one buffer.
    func drain(_ channel: EmbeddedChannel) throws -> ByteBuffer? {
        var all: ByteBuffer? = nil
        while var next = try channel.readOutbound(as: ByteBuffer.self) {
            if all == nil { all = next } else { all!.writeBuffer(&next) }
        }
        return all
    }
}

@Suite("TLS handler over EmbeddedChannel")
struct EmbeddedTLSTests {
    let fixture: CertificateFixture

    init() throws { fixture = try CertificateFixture() }

    @Test func handshakeThenDataBothWaysAndPeersKnowEachOther() throws {
        let pair = try EmbeddedPair(
            server: fixture.configuration(.replica, "r1"),
            client: fixture.configuration(.coordinator, "c1")
        )
        try pair.activate()
        try pair.exchange()
        let serverSide = try #require(pair.serverRecorder.handshake)
        let clientSide = try #require(pair.clientRecorder.handshake)
        #expect(serverSide.peer.role == .coordinator && serverSide.peer.id == "c1")
        #expect(clientSide.peer.role == .replica && clientSide.peer.id == "r1")
        #expect(clientSide.protocolVersion == "TLSv1.3")
        #expect(pair.serverHandler.peer?.id == "c1")
        try settled(pair.client.writeAndFlush(ByteBuffer(string: "ping")))
        try pair.exchange()
        #expect(pair.serverRecorder.text == "ping")
        try settled(pair.server.writeAndFlush(ByteBuffer(string: "pong")))
        try pair.exchange()
        #expect(pair.clientRecorder.text == "pong")
        #expect(pair.serverRecorder.errors.isEmpty && pair.clientRecorder.errors.isEmpty)
    }

    @Test func writesBeforeHandshakeArriveAfterItInTheSameReadAsTheHandshakeEnd() throws {
        let pair = try EmbeddedPair(
            server: fixture.configuration(.replica, "r1"),
            client: fixture.configuration(.client, "alice")
        )
        try pair.activate()
        // Written while the handshake has not even started its first flight.
        let written = pair.client.writeAndFlush(ByteBuffer(string: "early-1;early-2"))
        try pair.exchange()
        try settled(written)
        #expect(pair.serverRecorder.text == "early-1;early-2")
        // The client's Finished and its data travelled in one flight, i.e. one channelRead on the server.
        #expect(pair.serverRecorder.reads.count == 1)
    }

    @Test func heldBackWritesGoBeforeWritesMadeOnTheHandshakeEvent() throws {
        let pair = try EmbeddedPair(
            server: fixture.configuration(.replica, "r1"),
            client: fixture.configuration(.client, "alice")
        )
        try pair.client.pipeline.syncOperations.addHandler(
            WriteOnHandshake(text: "second"),
            position: .after(pair.clientHandler)
        )
        try pair.activate()
        pair.client.write(ByteBuffer(string: "first,"), promise: nil)
        pair.client.flush()
        try pair.exchange()
        #expect(pair.serverRecorder.text == "first,second")
    }

    /// Small writes between flushes become one record: one header and one tag, not one each.
    @Test func smallWritesUntilAFlushAreEncryptedAsOneRecordInOrder() throws {
        let pair = try EmbeddedPair(
            server: fixture.configuration(.replica, "r1"),
            client: fixture.configuration(.coordinator, "c1")
        )
        try pair.activate()
        try pair.exchange()
        let parts = (0..<50).map { "part-\($0);" }
        let written = parts.map { pair.client.write(ByteBuffer(string: $0)) }
        #expect(try pair.drain(pair.client) == nil, "nothing leaves before the flush")
        pair.client.flush()
        let records = try #require(try pair.drain(pair.client))
        let plaintext = parts.joined().utf8.count
        // TLS 1.3: a 5-byte header, the plaintext, its content type byte and a 16-byte tag.
        #expect(records.readableBytes == 5 + plaintext + 1 + 16)
        for future in written { try settled(future) }
        try pair.server.writeInbound(records)
        // A large write after small ones keeps the order.
        pair.client.write(ByteBuffer(string: "small;"), promise: nil)
        pair.client.write(ByteBuffer(string: String(repeating: "L", count: 40_000)), promise: nil)
        pair.client.flush()
        try pair.exchange()
        #expect(pair.serverRecorder.text == parts.joined() + "small;" + String(repeating: "L", count: 40_000))
    }

    @Test func largeWriteIsDeliveredIntact() throws {
        let pair = try EmbeddedPair(
            server: fixture.configuration(.replica, "r1"),
            client: fixture.configuration(.replica, "r1")
        )
        try pair.activate()
        try pair.exchange()
        // 1 MiB of a 251-byte pattern (prime, so records do not line up with it), built in blocks:
        // byte-by-byte writes would cost seconds in a debug build.
        let block = (0..<251).map { UInt8($0) }
        var payload = ByteBuffer()
        payload.reserveCapacity(1 << 20)
        while payload.readableBytes + block.count <= 1 << 20 { payload.writeBytes(block) }
        payload.writeBytes(block[0..<((1 << 20) - payload.readableBytes)])
        try settled(pair.client.writeAndFlush(payload))
        try pair.exchange()
        #expect(pair.serverRecorder.received == payload)
    }

    @Test func closeNotifyFromClientIsAnsweredAndBothCloseCleanly() throws {
        let pair = try EmbeddedPair(
            server: fixture.configuration(.replica, "r1"),
            client: fixture.configuration(.client, "alice")
        )
        try pair.activate()
        try pair.exchange()
        let closed = pair.client.close()
        try pair.exchange()
        #expect(!pair.server.isActive)
        #expect(!pair.client.isActive)
        try settled(closed)
        #expect(pair.serverRecorder.errors.isEmpty && pair.clientRecorder.errors.isEmpty)
    }

    @Test func closeNotifyFromServerIsAnswered() throws {
        let pair = try EmbeddedPair(
            server: fixture.configuration(.replica, "r1"),
            client: fixture.configuration(.client, "alice")
        )
        try pair.activate()
        try pair.exchange()
        try settled(pair.server.writeAndFlush(ByteBuffer(string: "last words")))
        let closed = pair.server.close()
        try pair.exchange()
        try settled(closed)
        #expect(pair.clientRecorder.text == "last words")
        #expect(!pair.client.isActive)
        #expect(pair.serverRecorder.errors.isEmpty && pair.clientRecorder.errors.isEmpty)
    }

    @Test func peerVanishingWithoutCloseNotifyIsAnUncleanShutdown() throws {
        let pair = try EmbeddedPair(
            server: fixture.configuration(.replica, "r1"),
            client: fixture.configuration(.client, "alice")
        )
        try pair.activate()
        try pair.exchange()
        // The socket closes under the TLS layer (as when the peer's process dies).
        pair.server.pipeline.fireChannelInactive()
        #expect(pair.serverRecorder.tlsErrors == [.uncleanShutdown])
    }

    @Test func shutdownTimesOutWhenThePeerNeverAnswers() throws {
        var configuration = fixture.configuration(.replica, "r1")
        configuration.shutdownTimeout = .milliseconds(200)
        let pair = try EmbeddedPair(server: configuration, client: fixture.configuration(.client, "alice"))
        try pair.activate()
        try pair.exchange()
        let closed = pair.server.close()
        _ = try pair.drain(pair.server)  // the close_notify is lost: the client never sees it
        #expect(pair.server.isActive)
        pair.server.embeddedEventLoop.advanceTime(by: .milliseconds(199))
        #expect(pair.server.isActive)
        pair.server.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!pair.server.isActive)
        try settled(closed)
        #expect(pair.serverRecorder.tlsErrors == [.shutdownTimedOut])
    }

    @Test func garbageWhileClosingFailsAndStillCompletesTheClose() throws {
        let pair = try EmbeddedPair(
            server: fixture.configuration(.replica, "r1"),
            client: fixture.configuration(.client, "alice")
        )
        try pair.activate()
        try pair.exchange()
        let closed = pair.server.close()
        _ = try pair.drain(pair.server)
        try pair.server.writeInbound(ByteBuffer(bytes: [0x17, 0x03, 0x03, 0x00, 0x05, 1, 2, 3, 4, 5]))
        #expect(!pair.server.isActive)
        _ = try settled(closed)
        guard case .protocolFailure = pair.serverRecorder.tlsErrors.first else {
            Issue.record("server errors: \(pair.serverRecorder.errors)")
            return
        }
        // The shutdown timer was cancelled: nothing more happens later.
        pair.server.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(pair.serverRecorder.tlsErrors.count == 1)
    }

    @Test func clientCertificateFromAnotherCAIsRefused() throws {
        let pair = try EmbeddedPair(
            server: fixture.configuration(.replica, "r1"),
            client: fixture.configuration(.client, "mallory", in: fixture.other).trusting(fixture.cluster)
        )
        try pair.activate()
        try pair.exchange()
        guard case .peerCertificateRejected(.unknownIssuer, _) = pair.serverRecorder.tlsErrors.first else {
            Issue.record("server errors: \(pair.serverRecorder.errors)")
            return
        }
        #expect(!pair.server.isActive)
        // The client learns it from the alert (TLS 1.3 finishes the client side first).
        guard case .alertReceived(alert: 48, _) = pair.clientRecorder.tlsErrors.first else {
            Issue.record("client errors: \(pair.clientRecorder.errors)")
            return
        }
        #expect(pair.clientRecorder.handshake == nil || !pair.client.isActive)
    }

    @Test func aBundleOfTwoCAsTrustsBothDuringARotation() throws {
        let bundle = fixture.root + "/both-cas.pem"
        let both =
            try String(contentsOfFile: fixture.cluster.caCertificatePath, encoding: .utf8)
            + String(contentsOfFile: fixture.other.caCertificatePath, encoding: .utf8)
        try both.write(toFile: bundle, atomically: true, encoding: .utf8)
        var server = fixture.configuration(.replica, "r1")
        server.trustedCertificateAuthoritiesPath = bundle
        for (id, directory) in [("alice", fixture.cluster), ("mallory", fixture.other)] {
            let pair = try EmbeddedPair(
                server: server,
                client: fixture.configuration(.client, id, in: directory).trusting(fixture.cluster)
            )
            try pair.activate()
            try pair.exchange()
            #expect(pair.serverRecorder.handshake?.peer.id == id, "\(pair.serverRecorder.errors)")
        }
    }

    @Test func serverCertificateFromAnotherCAIsRefusedByTheClient() throws {
        let pair = try EmbeddedPair(
            server: fixture.configuration(.replica, "r9", in: fixture.other).trusting(fixture.cluster),
            client: fixture.configuration(.client, "alice")
        )
        try pair.activate()
        try pair.exchange()
        guard case .peerCertificateRejected(.unknownIssuer, _) = pair.clientRecorder.tlsErrors.first else {
            Issue.record("client errors: \(pair.clientRecorder.errors)")
            return
        }
        #expect(pair.clientRecorder.handshake == nil)
        #expect(pair.serverRecorder.handshake == nil)
    }

    @Test func expiredClientCertificateIsRefused() throws {
        let pair = try EmbeddedPair(
            server: fixture.configuration(.replica, "r1"),
            client: fixture.configuration(.client, "expired")
        )
        try pair.activate()
        try pair.exchange()
        guard case .peerCertificateRejected(.expired, _) = pair.serverRecorder.tlsErrors.first else {
            Issue.record("server errors: \(pair.serverRecorder.errors)")
            return
        }
        #expect(pair.serverRecorder.handshake == nil)
    }

    @Test func notYetValidClientCertificateIsRefused() throws {
        let pair = try EmbeddedPair(
            server: fixture.configuration(.replica, "r1"),
            client: fixture.configuration(.client, "future")
        )
        try pair.activate()
        try pair.exchange()
        guard case .peerCertificateRejected(.notYetValid, _) = pair.serverRecorder.tlsErrors.first else {
            Issue.record("server errors: \(pair.serverRecorder.errors)")
            return
        }
    }

    @Test func wrongIPAddressIsRefused() throws {
        let pair = try EmbeddedPair(
            server: fixture.configuration(.replica, "r1"),
            client: fixture.configuration(.client, "alice"),
            host: "10.1.2.3"
        )
        try pair.activate()
        try pair.exchange()
        guard case .peerCertificateRejected(.ipAddressMismatch, _) = pair.clientRecorder.tlsErrors.first else {
            Issue.record("client errors: \(pair.clientRecorder.errors)")
            return
        }
    }

    @Test func wrongHostNameIsRefusedAndRightOneAccepted() throws {
        let wrong = try EmbeddedPair(
            server: fixture.configuration(.replica, "r1"),
            client: fixture.configuration(.client, "alice"),
            host: "replica-2.example"
        )
        try wrong.activate()
        try wrong.exchange()
        guard case .peerCertificateRejected(.hostnameMismatch, _) = wrong.clientRecorder.tlsErrors.first else {
            Issue.record("client errors: \(wrong.clientRecorder.errors)")
            return
        }
        let right = try EmbeddedPair(
            server: fixture.configuration(.replica, "r1"),
            client: fixture.configuration(.client, "alice"),
            host: "localhost"
        )
        try right.activate()
        try right.exchange()
        #expect(right.clientRecorder.handshake?.peer.id == "r1")
    }

    @Test func wrongRoleIsRefusedAndCounted() throws {
        let metrics = TestMetrics()
        var server = fixture.configuration(.replica, "r1", allowed: [.replica, .coordinator])
        server.metricsFactory = metrics
        let pair = try EmbeddedPair(server: server, client: fixture.configuration(.client, "alice"))
        try pair.activate()
        try pair.exchange()
        guard case .peerRoleNotAllowed(let peer, let allowed) = pair.serverRecorder.tlsErrors.first else {
            Issue.record("server errors: \(pair.serverRecorder.errors)")
            return
        }
        #expect(peer.role == .client && peer.id == "alice")
        #expect(allowed == [.replica, .coordinator])
        let counter = try metrics.expectCounter("replog_tls_errors_total", [("reason", "role_not_allowed")])
        #expect(counter.totalValue == 1)
        #expect(pair.serverRecorder.handshake == nil)
        #expect(!pair.server.isActive)
    }

    @Test func plaintextClientIsRefusedWithoutHanging() throws {
        let handler = TLSHandler(provider: try fixture.provider(fixture.configuration(.replica, "r1")), mode: .server)
        let recorder = Recorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([handler, recorder])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(ByteBuffer(string: "HELLO replica\n"))
        #expect(recorder.tlsErrors == [.plaintextPeer(firstBytes: [UInt8(ascii: "H")])])
        #expect(!channel.isActive)
    }

    @Test func tls12WhenAllowedOnBothEndsAndRefusedByDefault() throws {
        var server = fixture.configuration(.replica, "r1")
        server.minimumVersion = .tls12
        var client = fixture.configuration(.client, "alice")
        client.minimumVersion = .tls12
        client.tls13CipherSuites = nil
        // A client that cannot do TLS 1.3 at all, to force 1.2.
        let onlyTLS12 = try EmbeddedPair(server: server, client: client.cappedAtTLS12())
        try onlyTLS12.activate()
        try onlyTLS12.exchange()
        #expect(onlyTLS12.serverRecorder.handshake?.protocolVersion == "TLSv1.2")
        let refused = try EmbeddedPair(server: fixture.configuration(.replica, "r1"), client: client.cappedAtTLS12())
        try refused.activate()
        try refused.exchange()
        guard case .handshakeFailed = refused.serverRecorder.tlsErrors.first else {
            Issue.record("server errors: \(refused.serverRecorder.errors)")
            return
        }
    }

    @Test func invalidCipherOrGroupSettingsAreRefusedAtLoad() throws {
        var configuration = fixture.configuration(.replica, "r1")
        configuration.groups = "no-such-group"
        #expect(throws: TLSError.self) { try TLSContext(configuration: configuration) }
        configuration.groups = "X25519:P-256"
        configuration.tls13CipherSuites = "TLS_AES_256_GCM_SHA384"
        let pair = try EmbeddedPair(server: configuration, client: fixture.configuration(.client, "alice"))
        try pair.activate()
        try pair.exchange()
        #expect(pair.serverRecorder.handshake?.cipherSuite == "TLS_AES_256_GCM_SHA384")
    }
}

/// Writes `text` when the TLS handshake completes.
final class WriteOnHandshake: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let text: String

    init(text: String) { self.text = text }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is TLSHandshakeCompleted {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// The value of an EmbeddedChannel future, failing the test (instead of hanging) when it is not
/// complete yet: on an embedded loop everything due has already run.
func settled<T>(_ future: EventLoopFuture<T>, sourceLocation: SourceLocation = #_sourceLocation) throws -> T {
    nonisolated(unsafe) var result: Result<T, any Error>? = nil
    future.whenComplete { result = $0 }
    let settled = try #require(result, "future not complete", sourceLocation: sourceLocation)
    return try settled.get()
}

extension TLSConfiguration {
    /// The same, but trusting `directory`'s CA.
    func trusting(_ directory: CertificateDirectory) -> TLSConfiguration {
        var copy = self
        copy.trustedCertificateAuthoritiesPath = directory.caCertificatePath
        return copy
    }

    /// The same, offering TLS 1.2 only.
    func cappedAtTLS12() -> TLSConfiguration {
        var copy = self
        copy.minimumVersion = .tls12
        copy.maximumVersion = .tls12
        return copy
    }
}
