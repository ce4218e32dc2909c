import Logging
import NIOCore
import ReplogModel
import ReplogNet
import ReplogWire

/// The request/response measurements of `replog bench rpc` and `replog bench tls`: one
/// connection on loopback, with whichever transport security the caller picks.
enum RPCMeasurement {
    /// Prints round-trip latency with one request in flight, 100-byte appends with `inFlight`
    /// requests in flight, and with 8 in flight: 1 MiB requests (small answers), 1 MiB answers
    /// (small requests) and 1 MiB each way, each for `budget`.
    static func run(
        server serverSecurity: TransportSecurity,
        client clientSecurity: TransportSecurity,
        budget: Duration,
        inFlight: Int,
        label: String
    ) async throws {
        let cluster = ClusterID(high: 1, low: 1)
        let mebibyte = ByteBuffer(repeating: 2, count: 1 << 20)
        let bulkAnswer = Message.readResponse(
            ReadResponse(entries: [Entry(position: 1, bytes: mebibyte)], next: 2, end: 1)
        )
        let server = try await RPCServer.bind(
            host: "127.0.0.1",
            port: 0,
            identity: PeerIdentity(clusterID: cluster, role: .replica, nodeID: "bench-server"),
            allowedRoles: [.coordinator],
            security: serverSecurity,
            logger: Logger(label: "bench")
        ) { _, message in
            switch message {
            case .appendRequest(let request) where request.token.client == echoClient:
                return bulkAnswer
            case .appendRequest(let request):
                return .appendResponse(AppendResponse(position: 1, count: UInt32(request.entries.count)))
            case .readRequest:
                return bulkAnswer
            default:
                return .positionsResponse(PositionsResponse(begin: 0, end: 0))
            }
        }
        let serving = Task { try await server.run() }
        defer { serving.cancel() }
        let connection = try await RPCConnection.connect(
            host: "127.0.0.1",
            port: server.localAddress.port!,
            identity: PeerIdentity(clusterID: cluster, role: .coordinator, nodeID: "bench-client"),
            security: clientSecurity
        )
        var latencies: [Duration] = []
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < budget {
            let sent = clock.now
            _ = try await connection.request(.positionsRequest)
            latencies.append(clock.now - sent)
        }
        latencies.sort()
        print(
            "\(label) round trip, 1 in flight:   p50 \(micros(latencies[latencies.count / 2])) us"
                + "   p99 \(micros(latencies[latencies.count * 99 / 100])) us   (\(latencies.count) requests)"
        )
        let small = Message.appendRequest(AppendRequest(entries: [ByteBuffer(repeating: 1, count: 100)]))
        let smallRate = try await pipelined(connection, message: small, budget: budget, inFlight: inFlight)
        print("\(label) 100-byte appends, \(inFlight) in flight: \(Int(smallRate)) requests/s")
        let bulk = Message.appendRequest(AppendRequest(entries: [mebibyte]))
        let bulkRate = try await pipelined(connection, message: bulk, budget: budget, inFlight: 8)
        print("\(label) 1 MiB requests, 8 in flight:   \(Int(bulkRate * 1.048576)) MB/s")
        let read = Message.readRequest(ReadRequest(from: 1, to: 1, maxEntries: 1, maxBytes: 1 << 20))
        let readRate = try await pipelined(connection, message: read, budget: budget, inFlight: 8)
        print("\(label) 1 MiB responses, 8 in flight:  \(Int(readRate * 1.048576)) MB/s")
        let echo = Message.appendRequest(
            AppendRequest(token: AppendToken(client: echoClient, sequence: 1), entries: [mebibyte])
        )
        let echoRate = try await pipelined(connection, message: echo, budget: budget, inFlight: 8)
        print(
            "\(label) 1 MiB each way, 8 in flight:   \(Int(echoRate * 1.048576)) MB/s each way"
                + " (\(Int(echoRate * 2 * 1.048576)) MB/s both)"
        )
        await connection.close()
        await server.close()
    }

    /// Marks the appends the benchmark server answers with 1 MiB (the echo measurement).
    static let echoClient: UInt64 = 0xEC40

    /// Keeps `inFlight` requests outstanding for `budget`; returns completed requests per second.
    static func pipelined(_ connection: RPCConnection, message: Message, budget: Duration, inFlight: Int)
        async throws -> Double
    {
        let clock = ContinuousClock()
        let start = clock.now
        let completed = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<inFlight {
                group.addTask {
                    var done = 0
                    while clock.now - start < budget {
                        _ = try await connection.request(message, timeout: .seconds(30))
                        done += 1
                    }
                    return done
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = clock.now - start
        return Double(completed) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    static func micros(_ duration: Duration) -> String {
        let nanoseconds = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
        return "\(nanoseconds / 1000).\(nanoseconds % 1000 / 100)"
    }
}
