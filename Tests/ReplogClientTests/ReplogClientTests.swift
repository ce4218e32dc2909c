import NIOCore
import ReplogClient
import ReplogModel
import ReplogNet
import ReplogTestSupport
import ReplogWire
import Testing

func configuration(_ endpoints: [Endpoint], timeout: Duration = .seconds(10)) -> ClientConfiguration {
    var configuration = ClientConfiguration(
        coordinators: endpoints,
        clusterID: InMemoryLogServer.cluster,
        name: "client-test",
        security: .plaintext
    )
    configuration.operationTimeout = timeout
    configuration.requestTimeout = .seconds(5)
    configuration.readBatchEntries = 3
    configuration.tailPollInterval = .milliseconds(10)
    return configuration
}

@Suite struct ReplogClientTests {
    @Test func appendsAndReadsBackInOrderAcrossPages() async throws {
        let server = try await InMemoryLogServer()
        let client = ReplogClient(configuration: configuration([server.endpoint]))
        #expect(try await client.append(ByteBuffer(string: "a")) == 1)
        #expect(try await client.append(batch: ["b", "c", "d"].map { ByteBuffer(string: $0) }) == 2...4)
        #expect(try await client.append(ByteBuffer(string: "e")) == 5)
        var read: [String] = []
        for try await entry in client.read(from: 2) { read.append(String(buffer: entry.bytes)) }
        #expect(read == ["b", "c", "d", "e"])
        #expect(try await client.positions() == PositionsResponse(begin: 1, end: 5))
        await client.close()
        await server.stop()
    }

    @Test func aSlowReaderGetsEveryEntryAndTheReadsWaitForIt() async throws {
        let server = try await InMemoryLogServer()
        var settings = configuration([server.endpoint])
        settings.readBatchEntries = 1000
        let client = ReplogClient(configuration: settings)
        for batch in 0..<10 {
            let entries = (0..<1000).map { ByteBuffer(string: "\(batch * 1000 + $0)") }
            _ = try await client.append(batch: entries)
        }
        // The consumer is far slower than the reads: nothing may be dropped on the way.
        var next = 0
        for try await entry in client.read(from: 1) {
            #expect(String(buffer: entry.bytes) == "\(next)")
            next += 1
            if next % 100 == 0 { try await Task.sleep(for: .milliseconds(1)) }
        }
        #expect(next == 10_000)
        await client.close()
        await server.stop()
    }

    @Test func followsRedirectsToTheLeader() async throws {
        let leader = try await InMemoryLogServer()
        let follower = try await InMemoryLogServer()
        follower.state.withLockedValue { $0.redirectTo = leader.endpoint.description }
        let client = ReplogClient(configuration: configuration([follower.endpoint]))
        #expect(try await client.append(ByteBuffer(string: "x")) == 1)
        #expect(leader.state.withLockedValue { $0.end } == 1)
        #expect(follower.state.withLockedValue { $0.end } == 0)
        await client.close()
        await leader.stop()
        await follower.stop()
    }

    @Test func retriesReuseTheTokenSoAnAppendIsAppliedOnce() async throws {
        let server = try await InMemoryLogServer()
        server.state.withLockedValue { $0.dropAnswers = 2 }
        var short = configuration([server.endpoint], timeout: .seconds(60))
        short.requestTimeout = .milliseconds(500)
        let client = ReplogClient(configuration: short)
        // The first two answers are lost (timeouts): the client retries, the server de-duplicates.
        #expect(try await client.append(ByteBuffer(string: "once")) == 1)
        let state = server.state.withLockedValue { $0 }
        // At least the two lost attempts and the answered one; more if a busy machine delayed an answer.
        #expect(state.appendRequests >= 3)
        #expect(state.end == 1, "the append was applied \(state.end) times")
        #expect(try await client.append(ByteBuffer(string: "twice")) == 2)
        await client.close()
        await server.stop()
    }

    @Test func tailFollowsNewEntries() async throws {
        let server = try await InMemoryLogServer()
        let writer = ReplogClient(configuration: configuration([server.endpoint]))
        let reader = ReplogClient(configuration: configuration([server.endpoint]))
        _ = try await writer.append(ByteBuffer(string: "before"))
        let followed = Task {
            var seen: [String] = []
            for try await entry in reader.tail(from: 1) {
                seen.append(String(buffer: entry.bytes))
                if seen.count == 4 { break }
            }
            return seen
        }
        for text in ["one", "two", "three"] {
            try await Task.sleep(for: .milliseconds(20))
            _ = try await writer.append(ByteBuffer(string: text))
        }
        #expect(try await followed.value == ["before", "one", "two", "three"])
        await writer.close()
        await reader.close()
        await server.stop()
    }

    @Test func truncatedPositionsSayWhereToRestart() async throws {
        let server = try await InMemoryLogServer()
        let client = ReplogClient(configuration: configuration([server.endpoint]))
        for text in ["a", "b", "c"] { _ = try await client.append(ByteBuffer(string: text)) }
        _ = try await client.truncate(to: 3)
        do {
            for try await _ in client.read(from: 1) {}
            Issue.record("reading truncated positions succeeded")
        } catch ReplogClientError.truncated(let restart) {
            #expect(restart == 3)
        }
        await client.close()
        await server.stop()
    }

    @Test func nonRetryableRefusalsFailAtOnce() async throws {
        let server = try await InMemoryLogServer()
        let client = ReplogClient(configuration: configuration([server.endpoint]))
        do {
            _ = try await client.append(ByteBuffer(repeating: 0, count: 2000))
            Issue.record("an oversized entry was accepted")
        } catch ReplogClientError.rejected(let reply) {
            #expect(reply.code == .entryTooLarge)
        }
        #expect(server.state.withLockedValue { $0.appendRequests } == 1)
        await client.close()
        await server.stop()
    }

    @Test func aRefusedConnectionIsNotRetried() async throws {
        let server = try await InMemoryLogServer()
        var wrongCluster = configuration([server.endpoint])
        wrongCluster.clusterID = ClusterID(high: 0xBAD, low: 0xBAD)
        let client = ReplogClient(configuration: wrongCluster)
        let start = ContinuousClock.now
        do {
            _ = try await client.append(ByteBuffer(string: "x"))
            Issue.record("a client of another cluster was served")
        } catch ReplogClientError.rejected(let reply) {
            #expect(reply.code == .clusterMismatch)
        }
        // Well under the 30 s operation timeout that retries would run into.
        #expect(ContinuousClock.now - start < .seconds(20), "a permanent refusal was retried")
        await client.close()
        await server.stop()
    }

    @Test func unreachableClusterFailsWithinTheOperationTimeout() async throws {
        let server = try await InMemoryLogServer()
        let endpoint = server.endpoint
        await server.stop()
        let client = ReplogClient(configuration: configuration([endpoint], timeout: .milliseconds(400)))
        let start = ContinuousClock.now
        do {
            _ = try await client.append(ByteBuffer(string: "lost"))
            Issue.record("an append to a stopped cluster succeeded")
        } catch ReplogClientError.deadlineExceeded(let operation, _, let lastError) {
            #expect(operation == "append")
            #expect(lastError.contains(endpoint.description))
        }
        // Bounded by the operation timeout plus one connect attempt, never the 30 s default.
        #expect(ContinuousClock.now - start < .seconds(20))
        await client.close()
    }
}

@Suite struct EndpointTests {
    @Test func parsesHostsPortsAndBracketedIPv6() {
        #expect(Endpoint("127.0.0.1:7001") == Endpoint(host: "127.0.0.1", port: 7001))
        #expect(Endpoint("db1.example:80") == Endpoint(host: "db1.example", port: 80))
        #expect(Endpoint("[::1]:7001") == Endpoint(host: "::1", port: 7001))
        #expect(Endpoint("[::1]:7001")?.description == "[::1]:7001")
        for bad in ["", "host", ":7001", "host:", "host:0", "host:70000", "::1:7001", "[::1]7001", "h:p"] {
            #expect(Endpoint(bad) == nil, "\(bad) parsed")
        }
    }
}
