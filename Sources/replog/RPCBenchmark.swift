import ArgumentParser
import Logging
import NIOCore
import ReplogModel
import ReplogNet
import ReplogWire

/// `replog bench rpc`: request/response latency and throughput over one loopback connection.
struct RPCBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc",
        abstract: "Measure round-trip latency, pipelined requests/s and bulk throughput over one connection."
    )

    @Option(help: "Seconds to spend on each measurement.")
    var seconds: Double = 3

    @Option(help: "Requests in flight for the throughput measurement.")
    var inFlight = 64

    func validate() throws {
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        guard inFlight > 0 else { throw ValidationError("--in-flight must be positive") }
    }

    func run() async throws {
        let cluster = ClusterID(high: 1, low: 1)
        let server = try await RPCServer.bind(
            host: "127.0.0.1",
            port: 0,
            identity: PeerIdentity(clusterID: cluster, role: .replica, nodeID: "bench-server"),
            allowedRoles: [.coordinator],
            security: .plaintext,
            logger: Logger(label: "bench")
        ) { _, message in
            switch message {
            case .appendRequest(let request):
                return .appendResponse(AppendResponse(position: 1, count: UInt32(request.entries.count)))
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
            security: .plaintext
        )
        print("replog rpc benchmark (plaintext loopback, one connection, \(seconds) s per measurement)")
        let budget = Duration.milliseconds(Int64(seconds * 1000))

        var latencies: [Duration] = []
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < budget {
            let sent = clock.now
            _ = try await connection.request(.positionsRequest)
            latencies.append(clock.now - sent)
        }
        latencies.sort()
        func micros(_ d: Duration) -> String {
            let nanoseconds = d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000
            return "\(nanoseconds / 1000).\(nanoseconds % 1000 / 100)"
        }
        print(
            "round trip, 1 in flight:   p50 \(micros(latencies[latencies.count / 2])) us"
                + "   p99 \(micros(latencies[latencies.count * 99 / 100])) us   (\(latencies.count) requests)"
        )

        let small = Message.appendRequest(AppendRequest(entries: [ByteBuffer(repeating: 1, count: 100)]))
        let smallRate = try await pipelined(connection, message: small, budget: budget)
        print("100-byte appends, \(inFlight) in flight: \(Int(smallRate)) requests/s")

        let bulk = Message.appendRequest(AppendRequest(entries: [ByteBuffer(repeating: 2, count: 1 << 20)]))
        let bulkRate = try await pipelined(connection, message: bulk, budget: budget, inFlight: 8)
        print("1 MiB frames, 8 in flight:   \(Int(bulkRate * 1.048576)) MB/s")
        await connection.close()
        await server.close()
    }

    /// Keeps `inFlight` requests outstanding for `budget`; returns completed requests per second.
    func pipelined(_ connection: RPCConnection, message: Message, budget: Duration, inFlight: Int? = nil) async throws
        -> Double
    {
        let clock = ContinuousClock()
        let start = clock.now
        let completed = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<(inFlight ?? self.inFlight) {
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
}
