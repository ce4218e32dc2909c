import Foundation
import NIOConcurrencyHelpers
import NIOCore
import ReplogModel
import ReplogNet
import ReplogWire
import Testing

/// Answers a ping-like echo: `AppendRequest` -> `AppendResponse(position: client, count: entries)`.
let echo: RPCServer.Handler = { _, message in
    guard case .appendRequest(let request) = message else {
        return .error(ErrorReply(code: .invalidRequest, text: "not an append"))
    }
    // Answer out of order on purpose: later requests may finish first.
    try? await Task.sleep(for: .microseconds(Int64(request.token.sequence % 7) * 100))
    return .appendResponse(AppendResponse(position: request.token.client, count: UInt32(request.entries.count)))
}

func append(_ client: UInt64) -> Message {
    .appendRequest(
        AppendRequest(token: AppendToken(client: client, sequence: client), entries: [ByteBuffer(string: "x")])
    )
}

@Suite struct RPCTests {
    @Test func handshakeThenManyRequestsInFlightAreMatchedById() async throws {
        try await Net.withServer(handler: echo) { _, port in
            let connection = try await Net.connect(port: port)
            #expect(connection.peer.identity == Net.replica)
            #expect(connection.peer.version == 1)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in 1...500 as ClosedRange<UInt64> {
                    group.addTask {
                        let answer = try await connection.request(append(client))
                        #expect(answer == .appendResponse(AppendResponse(position: client, count: 1)))
                    }
                }
                try await group.waitForAll()
            }
            await connection.close()
        }
    }

    @Test func typedErrorRepliesAreThrown() async throws {
        try await Net.withServer(handler: echo) { _, port in
            let connection = try await Net.connect(port: port)
            await #expect(throws: ErrorReply(code: .invalidRequest, text: "not an append")) {
                try await connection.request(.statusRequest)
            }
            await connection.close()
        }
    }

    @Test func otherClusterIsRefusedNamingBothIds() async throws {
        try await Net.withServer(handler: echo) { _, port in
            let stranger = PeerIdentity(clusterID: ClusterID(high: 0xBAD, low: 1), role: .coordinator, nodeID: "c9")
            do {
                _ = try await Net.connect(port: port, identity: stranger)
                Issue.record("a peer of another cluster was accepted")
            } catch RPCError.refused(let reply, _) {
                #expect(reply.code == .clusterMismatch)
                #expect(reply.text.contains(stranger.clusterID.description))
                #expect(reply.text.contains(Net.cluster.description))
            }
        }
    }

    @Test func roleNotServedIsRefused() async throws {
        try await Net.withServer(allowedRoles: [.replica, .coordinator], handler: echo) { _, port in
            let client = PeerIdentity(clusterID: Net.cluster, role: .client, nodeID: "app")
            do {
                _ = try await Net.connect(port: port, identity: client)
                Issue.record("a client was accepted by a replica endpoint")
            } catch RPCError.refused(let reply, _) {
                #expect(reply.code == .roleNotAllowed)
                #expect(reply.text.contains("does not serve clients"))
            }
        }
    }

    @Test func versionWeDoNotSpeakIsRefused() async throws {
        try await Net.withServer(handler: echo) { server, port in
            try await RawClient.with(port: port) { raw in
                var hello = Net.coordinator.hello()
                hello.minVersion = 7
                hello.maxVersion = 9
                try await raw.write(.request(.hello(hello), id: 0))
                let answer = try await raw.readEnvelope()
                guard case .error(let reply) = answer?.message else {
                    Issue.record("expected an error, got \(String(describing: answer))")
                    return
                }
                #expect(reply.code == .unsupportedVersion)
                #expect(reply.text.contains("7...9"))
                #expect(try await raw.readEnvelope() == nil, "the server must close after refusing")
            }
        }
    }

    @Test func requestTimesOutAndTheConnectionStaysUsable() async throws {
        let slow: RPCServer.Handler = { peer, message in
            if case .truncateRequest = message { try? await Task.sleep(for: .seconds(2)) }
            return await echo(peer, message)
        }
        try await Net.withServer(handler: slow) { _, port in
            let connection = try await Net.connect(port: port)
            do {
                _ = try await connection.request(.truncateRequest(TruncateRequest(to: 5)), timeout: .milliseconds(100))
                Issue.record("no timeout")
            } catch RPCError.timeout(let type, _, _) {
                #expect(type == .truncateRequest)
            }
            #expect(try await connection.request(append(3)) == .appendResponse(AppendResponse(position: 3, count: 1)))
            await connection.close()
        }
    }

    /// One timer serves every request's timeout: a short timeout behind a long one still fires
    /// while the long one waits (not when it ends), and the long one is not cut short.
    @Test func aShortTimeoutBehindALongOneFiresOnTime() async throws {
        let gate = NIOLockedValueBox(false)
        let slow: RPCServer.Handler = { _, message in
            guard case .truncateRequest(let request) = message else { return nil }
            while !gate.withLockedValue({ $0 }) { try? await Task.sleep(for: .milliseconds(5)) }
            return .truncateResponse(TruncateResponse(position: request.to))
        }
        try await Net.withServer(handler: slow) { _, port in
            let connection = try await Net.connect(port: port)
            let long = Task {
                try await connection.request(.truncateRequest(TruncateRequest(to: 1)), timeout: .seconds(120))
            }
            try await Task.sleep(for: .milliseconds(50))
            let started = ContinuousClock.now
            do {
                _ = try await connection.request(.truncateRequest(TruncateRequest(to: 2)), timeout: .milliseconds(200))
                Issue.record("no timeout")
            } catch RPCError.timeout(let type, _, _) {
                #expect(type == .truncateRequest)
            }
            // Had it waited for the long request's timer, it would have taken 120 s; the gate keeps
            // the long one unanswered meanwhile, so only a busy machine adds to the 200 ms.
            #expect(ContinuousClock.now - started < .seconds(60), "the short timeout waited for the long one")
            gate.withLockedValue { $0 = true }
            #expect(try await long.value == .truncateResponse(TruncateResponse(position: 1)))
            await connection.close()
        }
    }

    /// Appends read together reach the append handler together; each is answered through its
    /// responder, from any thread and in any order. Other requests still go to the handler;
    /// appends beyond the in-flight limit wait like other requests, then go to the append handler.
    @Test func appendsGoToTheAppendHandlerInBurstsAndAreAnsweredByResponders() async throws {
        let bursts = NIOLockedValueBox<[Int]>([])
        let appendHandler: RPCServer.AppendHandler = { _, appends in
            bursts.withLockedValue { $0.append(appends.count) }
            for (request, respond) in appends.reversed() {
                let answer = Message.appendResponse(
                    AppendResponse(position: request.token.client + 1000, count: UInt32(request.entries.count))
                )
                if request.token.client % 2 == 0 {
                    respond(answer)
                } else {
                    Thread.detachNewThread { respond(answer) }
                }
            }
        }
        var options = ConnectionOptions()
        options.maxInFlight = 40
        try await Net.withServer(options: options, appendHandler: appendHandler, handler: echo) { _, port in
            let connection = try await Net.connect(port: port)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in 1...100 as ClosedRange<UInt64> {
                    group.addTask {
                        let answer = try await connection.request(append(client), timeout: .seconds(30))
                        let position: UInt64 = client + 1000
                        #expect(answer == .appendResponse(AppendResponse(position: position, count: 1)))
                    }
                }
                try await group.waitForAll()
            }
            #expect(bursts.withLockedValue { $0 }.reduce(0, +) == 100)
            // Anything else still goes to the handler.
            await #expect(throws: ErrorReply.self) {
                _ = try await connection.request(.truncateRequest(TruncateRequest(to: 1)), timeout: .seconds(30))
            }
            await connection.close()
        }
    }

    @Test func appendsWrittenInOneSegmentAreHandedOverInOneCall() async throws {
        let bursts = NIOLockedValueBox<[Int]>([])
        let appendHandler: RPCServer.AppendHandler = { _, appends in
            bursts.withLockedValue { $0.append(appends.count) }
            for (request, respond) in appends {
                respond(.appendResponse(AppendResponse(position: request.token.client, count: 1)))
            }
        }
        try await Net.withServer(appendHandler: appendHandler, handler: echo) { _, port in
            try await RawClient.with(port: port) { raw in
                try await raw.handshake()
                var buffer = ByteBuffer()
                for client in 1...10 as ClosedRange<UInt64> {
                    buffer.writeEnvelope(.request(append(client), id: client))
                }
                try await raw.write(buffer)
                var answered: Set<UInt64> = []
                for _ in 1...10 {
                    let envelope = try #require(try await raw.readEnvelope())
                    answered.insert(envelope.requestID)
                }
                #expect(answered == Set(1...10))
            }
        }
        #expect(bursts.withLockedValue { $0 } == [10])
    }

    @Test func tooManyRequestsInFlightFailFast() async throws {
        let gate = NIOLockedValueBox(false)
        let held: RPCServer.Handler = { peer, message in
            while !gate.withLockedValue({ $0 }) { try? await Task.sleep(for: .milliseconds(5)) }
            return await echo(peer, message)
        }
        try await Net.withServer(handler: held) { _, port in
            var options = ConnectionOptions()
            options.maxInFlight = 2
            let connection = try await Net.connect(port: port, options: options)
            async let first = connection.request(append(1))
            async let second = connection.request(append(2))
            try await Task.sleep(for: .milliseconds(50))
            await #expect(throws: RPCError.overloaded(limit: 2, peer: "[IPv4]127.0.0.1/127.0.0.1:\(port)")) {
                try await connection.request(append(3))
            }
            gate.withLockedValue { $0 = true }
            _ = try await (first, second)
            await connection.close()
        }
    }

    @Test func serverStopsReadingBeyondItsInFlightLimit() async throws {
        let concurrent = NIOLockedValueBox((now: 0, peak: 0))
        let counting: RPCServer.Handler = { peer, message in
            concurrent.withLockedValue {
                $0.now += 1
                $0.peak = max($0.peak, $0.now)
            }
            try? await Task.sleep(for: .milliseconds(2))
            concurrent.withLockedValue { $0.now -= 1 }
            return await echo(peer, message)
        }
        var serverOptions = ConnectionOptions()
        serverOptions.maxInFlight = 4
        try await Net.withServer(options: serverOptions, handler: counting) { _, port in
            let connection = try await Net.connect(port: port)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in 1...200 as ClosedRange<UInt64> {
                    group.addTask { _ = try await connection.request(append(client), timeout: .seconds(30)) }
                }
                try await group.waitForAll()
            }
            await connection.close()
        }
        let peak = concurrent.withLockedValue { $0.peak }
        #expect(peak == 4, "the server worked on \(peak) requests of one connection at once; the limit is 4")
    }

    @Test func closedConnectionFailsOutstandingRequests() async throws {
        let never: RPCServer.Handler = { _, _ in
            try? await Task.sleep(for: .seconds(30))
            return nil
        }
        try await Net.withServer(handler: never) { server, port in
            let connection = try await Net.connect(port: port)
            let answer = Task { try await connection.request(append(1), timeout: .seconds(30)) }
            try await Task.sleep(for: .milliseconds(50))
            await server.close()
            await #expect(throws: RPCError.self) { try await answer.value }
            #expect(!connection.isActive)
        }
    }
}

@Suite struct MisbehavingPeerTests {
    @Test func unknownMessageTypeGetsATypedErrorAndTheConnectionGoesOn() async throws {
        try await Net.withServer(handler: echo) { _, port in
            try await RawClient.with(port: port) { raw in
                try await raw.handshake()
                var frame = ByteBuffer()
                frame.writeMultipleIntegers(WireLimits.magic, UInt8(1), UInt8(0x6F), UInt16(0), UInt64(77), UInt32(0))
                try await raw.write(frame)
                let answer = try #require(try await raw.readEnvelope())
                #expect(answer.requestID == 77)
                #expect(answer.isResponse)
                guard case .error(let reply) = answer.message else {
                    Issue.record("expected an error reply")
                    return
                }
                #expect(reply.code == .unknownMessageType)
                try await raw.write(.request(.ping(Ping(nonce: 5)), id: 78))
                #expect(try await raw.readEnvelope() == .response(.pong(Ping(nonce: 5)), to: 78))
            }
        }
    }

    @Test func plaintextHTTPIsRefusedAndClosedNotHung() async throws {
        try await Net.withServer(handler: echo) { _, port in
            try await RawClient.with(port: port) { raw in
                try await raw.write(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
                let answer = try #require(try await raw.readEnvelope())
                guard case .error(let reply) = answer.message else {
                    Issue.record("expected an error reply")
                    return
                }
                #expect(reply.code == .malformedFrame)
                #expect(reply.text.contains("magic"))
                #expect(try await raw.readEnvelope() == nil)
            }
        }
    }

    @Test func requestsBeforeTheHelloAreRefused() async throws {
        try await Net.withServer(handler: echo) { _, port in
            try await RawClient.with(port: port) { raw in
                try await raw.write(.request(.statusRequest, id: 3))
                guard case .error(let reply) = try await raw.readEnvelope()?.message else {
                    Issue.record("expected an error reply")
                    return
                }
                #expect(reply.code == .helloRequired)
                #expect(try await raw.readEnvelope() == nil)
            }
        }
    }

    @Test func silentPeerIsDetectedAsDead() async throws {
        var options = ConnectionOptions()
        options.keepAlive = KeepAlive(interval: .seconds(1))
        try await Net.withServer(options: options, handler: echo) { server, port in
            try await RawClient.with(port: port) { raw in
                try await raw.handshake()
                // Never answer the server's pings: it must close within about two intervals.
                let start = ContinuousClock.now
                var pings = 0
                while let envelope = try await raw.readEnvelope() {
                    if case .ping = envelope.message { pings += 1 }
                }
                #expect(pings == 1)
                #expect(ContinuousClock.now - start < .seconds(15))
            }
        }
    }

    @Test func liveConnectionSurvivesManyKeepAliveIntervals() async throws {
        let options = {
            var options = ConnectionOptions()
            options.keepAlive = KeepAlive(interval: .milliseconds(500))
            return options
        }()
        try await Net.withServer(handler: echo) { _, port in
            // A live server keeps the connection up across many intervals.
            let connection = try await Net.connect(port: port, options: options)
            try await Task.sleep(for: .milliseconds(2500))
            #expect(connection.isActive)
            await connection.close()
        }
    }
}
