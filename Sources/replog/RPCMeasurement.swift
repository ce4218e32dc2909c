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
        // Bulk: MB/s of payload, and the CPU it cost (both ends are in this process), which unlike
        // the rate does not depend on what else runs on the machine.
        let bulks: [(String, Message, Double)] = [
            ("1 MiB requests, 8 in flight: ", .appendRequest(AppendRequest(entries: [mebibyte])), 1),
            (
                "1 MiB responses, 8 in flight:",
                .readRequest(ReadRequest(from: 1, to: 1, maxEntries: 1, maxBytes: 1 << 20)), 1
            ),
            (
                "1 MiB each way, 8 in flight: ",
                .appendRequest(AppendRequest(token: AppendToken(client: echoClient, sequence: 1), entries: [mebibyte])),
                2
            ),
        ]
        for (name, message, directions) in bulks {
            let cpuBefore = TLSBenchmark.processCPUSeconds()
            let started = ContinuousClock.now
            let rate = try await pipelined(connection, message: message, budget: budget, inFlight: 8)
            let seconds = TLSBenchmark.seconds(ContinuousClock.now - started)
            let cpu = TLSBenchmark.processCPUSeconds() - cpuBefore
            let gigabytes = rate * seconds * directions * 1.048576e-3
            print(
                "\(label) \(name) \(Int(rate * directions * 1.048576)) MB/s\(directions > 1 ? " (both directions)" : "")"
                    + "   \(String(format: "%.2f", cpu / gigabytes)) CPU-seconds per GB"
                    + " (\(String(format: "%.2f", cpu / seconds)) cores busy)"
            )
        }
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
