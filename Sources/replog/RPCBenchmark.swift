import ArgumentParser
import ReplogNet

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
        print("replog rpc benchmark (plaintext loopback, one connection, \(seconds) s per measurement)")
        try await RPCMeasurement.run(
            server: .plaintext,
            client: .plaintext,
            budget: .milliseconds(Int64(seconds * 1000)),
            inFlight: inFlight,
            label: "RPC"
        )
    }
}
