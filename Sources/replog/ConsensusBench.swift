import ArgumentParser
import ReplogConsensus
import ReplogTestKit

/// `replog bench consensus`: what pipelining and batched catch-up buy, in round trips.
///
/// Runs the real state machines on a fault-free virtual-time cluster with fixed latencies, so the
/// simulated numbers depend only on the protocol; the wall-clock numbers show the CPU cost of the
/// core itself (no I/O).
struct ConsensusBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consensus",
        abstract: "Measure append throughput (pipelined vs one write at a time) and recovery catch-up time."
    )

    @Option(help: "Appends per throughput run.")
    var appends = 20_000

    @Option(help: "Bytes per appended entry.")
    var size = 100

    @Option(help: "Replicas in the cluster.")
    var replicas = 3

    @Option(help: "Learned positions the recovering replica must catch up.")
    var positions = 20_000

    @Option(help: "One-way network latency in microseconds.")
    var latency: Int64 = 250

    @Option(help: "Time for a persist to become durable, in microseconds.")
    var sync: Int64 = 100

    func validate() throws {
        guard appends > 0, size >= 0, replicas >= 1, positions > 0, latency >= 0, sync >= 0 else {
            throw ValidationError("every count must be positive and every latency at least 0")
        }
    }

    func run() throws {
        let environment = VirtualCluster.Latency(networkMicroseconds: latency, syncMicroseconds: sync)
        print("consensus bench: \(replicas) replicas, one-way latency \(latency) µs, sync \(sync) µs")
        // (label, full batches in flight, partial batches in flight, entries per batch, clients)
        let runs: [(String, Int, Int, Int, Int)] = [
            ("one write at a time, 1 client (Mesos)", 1, 1, 1, 1),
            ("one write at a time, 64 clients", 1, 1, 1, 64),
            ("pipelined 16 x batches of 64, 64 clients", 16, 16, 64, 64),
            ("pipelined 16 x batches of 64, 1024 clients", 16, 16, 64, 1024),
            ("replog's default: 1 partial / 4 full batches, 64 clients", 4, 1, 64, 64),
        ]
        for (label, inFlight, partial, batch, clients) in runs {
            var cluster = VirtualCluster(replicaCount: replicas, latency: environment) {
                $0.maxInFlightBatches = inFlight
                $0.maxInFlightPartialBatches = partial
                $0.maxBatchEntries = batch
                $0.operationTimeout = .seconds(3600)
            }
            let clock = ContinuousClock()
            let started = clock.now
            let (microseconds, failed) = cluster.appendLoop(count: appends, size: size, outstanding: clients)
            let wall = clock.now - started
            let simulated = Double(appends) / (Double(max(1, microseconds)) / 1_000_000)
            let cpu = Double(appends) / max(1e-9, Double(wall.nanoseconds) / 1e9)
            print(
                "append  \(label): \(appends) x \(size) B in \(microseconds / 1000) ms simulated = "
                    + "\(Int(simulated)) appends/s; core CPU \(Int(cpu)) appends/s; \(failed) failed"
            )
        }
        let catchups: [(String, UInt64, Int)] = [
            ("one position per request, 1 in flight per peer (Mesos-like)", 1, 1),
            ("batches of 128, 2 in flight per peer", 128, 2),
        ]
        for (label, batch, window) in catchups {
            var cluster = VirtualCluster(replicaCount: replicas, learned: positions, latency: environment)
            cluster.wipe(0) {
                $0.catchupBatch = batch
                $0.catchupWindowPerPeer = window
            }
            let clock = ContinuousClock()
            let started = clock.now
            let microseconds = cluster.run(limitMicroseconds: 3_600_000_000) { $0.status(0) == .voting }
            let wall = clock.now - started
            let simulated = microseconds.map { "\($0 / 1000) ms simulated" } ?? "did not finish within an hour"
            print("recover \(label): \(positions) positions in \(simulated); core CPU \(wall)")
        }
    }
}
