import ArgumentParser

/// `replog bench ...`: benchmarks that print numbers.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a benchmark and print its numbers.",
        subcommands: [CodecBenchmark.self, RPCBenchmark.self, TLSBenchmark.self]
    )
}
