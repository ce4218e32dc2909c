import ArgumentParser

/// `replog bench ...`: benchmarks that print numbers.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a benchmark and print its numbers.",
        subcommands: [
            ClusterBenchmark.self, CodecBenchmark.self, RPCBenchmark.self, BenchStorage.self, ConsensusBench.self,
            TLSBenchmark.self,
        ],
        defaultSubcommand: ClusterBenchmark.self
    )
}
