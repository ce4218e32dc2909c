import NIOCore
import ReplogModel
import ReplogNet
import ReplogWire
import Testing

struct Counter64: RandomNumberGenerator {
    var state: UInt64 = 0
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return state
    }
}

@Suite struct BackoffTests {
    @Test func delaysDoubleWithinTheirUpperHalfAndAreCapped() {
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(1))
        var rng = Counter64()
        let ceilings: [Duration] = [
            .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1),
        ]
        for ceiling in ceilings {
            let delay = backoff.next(using: &rng)
            #expect(delay <= ceiling)
            #expect(delay >= ceiling / 2)
        }
        backoff.reset()
        #expect(backoff.next(using: &rng) <= .milliseconds(100))
    }
}

@Suite struct HelloNegotiationTests {
    let negotiation = HelloNegotiation(
        local: Net.replica,
        allowedRoles: [.replica, .coordinator],
        supportedVersions: 1...2
    )

    @Test func picksTheHighestCommonVersion() throws {
        var hello = Net.coordinator.hello()
        hello.minVersion = 1
        hello.maxVersion = 3
        #expect(try negotiation.answer(hello).get().version == 2)
        hello.maxVersion = 1
        #expect(try negotiation.answer(hello).get().version == 1)
    }

    @Test func clientsMayLearnTheClusterIDButServersMayNot() throws {
        let client = PeerIdentity(clusterID: .unknown, role: .client, nodeID: "app").hello()
        let clientEndpoint = HelloNegotiation(local: Net.coordinator, allowedRoles: [.client])
        #expect(try clientEndpoint.answer(client).get().clusterID == Net.cluster)
        let coordinator = PeerIdentity(clusterID: .unknown, role: .coordinator, nodeID: "c2").hello()
        if case .failure(let reply) = negotiation.answer(coordinator) {
            #expect(reply.code == .clusterMismatch)
        } else {
            Issue.record("a coordinator without a cluster id was accepted")
        }
    }

    @Test func refusalsSayWhy() {
        var newer = Net.coordinator.hello()
        newer.minVersion = 3
        newer.maxVersion = 4
        #expect(throws: ErrorReply.self) { try negotiation.answer(newer).get() }
        if case .failure(let reply) = negotiation.answer(newer) {
            #expect(reply.code == .unsupportedVersion)
            #expect(reply.text.contains("3...4") && reply.text.contains("1...2"))
        }
        let client = PeerIdentity(clusterID: Net.cluster, role: .client, nodeID: "app").hello()
        if case .failure(let reply) = negotiation.answer(client) {
            #expect(reply.code == .roleNotAllowed)
        } else {
            Issue.record("a client was accepted")
        }
    }
}

@Suite struct PeerLinkTests {
    @Test func failsFastWhileThePeerIsDownThenReconnects() async throws {
        // Find a free port, then leave it closed for a while.
        let probe = try await RPCServer.bind(
            host: "127.0.0.1",
            port: 0,
            identity: Net.replica,
            allowedRoles: [.coordinator],
            security: .plaintext,
            logger: Net.logger,
            handler: echo
        )
        let port = probe.localAddress.port!
        await probe.close()

        let link = PeerLink(
            host: "127.0.0.1",
            port: port,
            identity: Net.coordinator,
            security: .plaintext,
            backoff: Backoff(initial: .milliseconds(50), maximum: .milliseconds(100)),
            logger: Net.logger
        )
        await #expect(throws: (any Error).self) { try await link.request(append(1)) }
        #expect(await !link.isConnected)

        let server = try await RPCServer.bind(
            host: "127.0.0.1",
            port: port,
            identity: Net.replica,
            allowedRoles: [.coordinator],
            security: .plaintext,
            logger: Net.logger,
            handler: echo
        )
        try await Task.sleep(for: .milliseconds(150))
        #expect(try await link.request(append(2)) == .appendResponse(AppendResponse(position: 2, count: 1)))
        #expect(await link.isConnected)

        // The connection dies with the server; the next request reconnects to a new one.
        await server.close()
        let again = try await RPCServer.bind(
            host: "127.0.0.1",
            port: port,
            identity: Net.replica,
            allowedRoles: [.coordinator],
            security: .plaintext,
            logger: Net.logger,
            handler: echo
        )
        var answered = false
        for _ in 0..<50 where !answered {
            if (try? await link.request(append(3))) != nil {
                answered = true
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        #expect(answered)
        await link.close()
        await again.close()
    }
}
