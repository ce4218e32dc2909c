import ArgumentParser
import NIOConcurrencyHelpers
import NIOCore
import ReplogClient
import ReplogModel

#if canImport(Glibc)
    import Glibc
#endif

/// `replog bench [--input TRACE | --size S --count N] [--concurrency C] [--output FILE]`: the
/// `mesos-log benchmark` of a running cluster, with concurrency.
struct ClusterBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Append entries to a running cluster and print appends/s, MB/s and latency percentiles.",
        discussion: """
            The entries come from a trace (--input, one size per line such as 100B or 2MB, as for \
            mesos-log benchmark) or from --size and --count. With --output, one line per append is \
            written: '<unix time> Appended <n> bytes in <ms> ms'.
            """
    )

    enum Content: String, ExpressibleByArgument, CaseIterable {
        case zero, one, random
    }

    @OptionGroup var client: ClientOptions

    @Option(help: "A trace file: one entry size per line (100B, 64KB, 2MB); '#' starts a comment.")
    var input: String?

    @Option(help: "The size of every entry when no trace is given, e.g. 100B.")
    var size: String?

    @Option(help: "How many entries to append when no trace is given.")
    var count: Int?

    @Option(help: "Appends in flight at once.")
    var concurrency = 1

    @Option(help: "The entries' bytes: zero, one (0xFF) or random.")
    var type: Content = .random

    @Option(help: "Write one line per append to this file.")
    var output: String?

    func validate() throws {
        switch (input, size, count) {
        case (nil, nil, _): throw ValidationError("give a trace with --input, or --size and --count")
        case (_?, _?, _), (_?, _, _?): throw ValidationError("give either --input or --size and --count, not both")
        case (nil, let size?, let count):
            guard ByteSize(size) != nil else {
                throw ValidationError("--size '\(size)' is not a size like 100B, 64KB or 2MB")
            }
            guard let count, count > 0 else { throw ValidationError("--count must be a positive number of appends") }
        default: break
        }
        guard concurrency > 0 else { throw ValidationError("--concurrency must be positive") }
    }

    /// The entry sizes to append, in order.
    func sizes() throws -> [Int] {
        if let input {
            return try Self.parseTrace(String(buffer: readAll(path: input)), name: input)
        }
        return Array(repeating: ByteSize(size!)!.bytes, count: count!)
    }

    static func parseTrace(_ text: String, name: String) throws -> [Int] {
        var sizes: [Int] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            guard !line.allSatisfy(\.isWhitespace) else { continue }
            guard let size = ByteSize(String(line)) else {
                throw ValidationError("\(name) line \(index + 1): '\(line)' is not a size like 100B, 64KB or 2MB")
            }
            sizes.append(size.bytes)
        }
        guard !sizes.isEmpty else { throw ValidationError("\(name) holds no entry sizes") }
        return sizes
    }

    struct Sample {
        var size: Int
        var latency: Duration
        var finishedAt: UInt64
    }

    func run() async throws {
        let sizes = try sizes()
        let replog = try client.makeClient(name: "replog-bench")
        let payloads = makePayloads(sizes)
        let next = NIOLockedValueBox(0)
        let clock = ContinuousClock()
        let start = clock.now
        let samples = try await withThrowingTaskGroup(of: [Sample].self) { group in
            for _ in 0..<min(concurrency, sizes.count) {
                group.addTask {
                    var mine: [Sample] = []
                    while true {
                        let index = next.withLockedValue { value -> Int in
                            defer { value += 1 }
                            return value
                        }
                        guard index < sizes.count else { return mine }
                        let sent = clock.now
                        _ = try await replog.append(payloads[sizes[index]]!)
                        mine.append(
                            Sample(
                                size: sizes[index],
                                latency: clock.now - sent,
                                finishedAt: Self.wallClockMilliseconds()
                            )
                        )
                    }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let elapsed = clock.now - start
        await replog.close()
        if let output { try write(samples, to: output) }
        print(Self.summary(samples, elapsed: elapsed, concurrency: min(concurrency, sizes.count)))
    }

    /// One buffer per distinct size, shared by every append of that size.
    func makePayloads(_ sizes: [Int]) -> [Int: ByteBuffer] {
        var generator = SystemRandomNumberGenerator()
        var payloads: [Int: ByteBuffer] = [:]
        for size in Set(sizes) {
            switch type {
            case .zero: payloads[size] = ByteBuffer(repeating: 0, count: size)
            case .one: payloads[size] = ByteBuffer(repeating: 0xFF, count: size)
            case .random:
                var buffer = ByteBuffer()
                buffer.reserveCapacity(size)
                for _ in 0..<size { buffer.writeInteger(UInt8.random(in: 0...255, using: &generator)) }
                payloads[size] = buffer
            }
        }
        return payloads
    }

    func write(_ samples: [Sample], to path: String) throws {
        let lines = samples.sorted { $0.finishedAt < $1.finishedAt }.map { sample in
            let ms =
                Double(sample.latency.components.attoseconds) / 1e15 + Double(sample.latency.components.seconds) * 1e3
            return
                "\(sample.finishedAt / 1000).\(Self.pad(Int(sample.finishedAt % 1000))) Appended \(sample.size) bytes in \(Self.decimal(ms)) ms"
        }
        guard let file = fopen(path, "w") else {
            throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        for line in lines { fputs(line + "\n", file) }
    }

    static func summary(_ samples: [Sample], elapsed: Duration, concurrency: Int) -> String {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let bytes = samples.reduce(0) { $0 + $1.size }
        let latencies = samples.map(\.latency).sorted()
        func percentile(_ p: Int) -> String {
            let latency = latencies[min(latencies.count - 1, latencies.count * p / 100)]
            return decimal(Double(latency.components.attoseconds) / 1e15 + Double(latency.components.seconds) * 1e3)
        }
        let maximum = latencies.last!
        return """
            appends:      \(samples.count) of \(bytes) bytes with \(concurrency) in flight, in \(decimal(seconds)) s
            throughput:   \(decimal(Double(samples.count) / seconds)) appends/s, \(decimal(Double(bytes) / seconds / 1_000_000)) MB/s
            latency (ms): p50 \(percentile(50))  p90 \(percentile(90))  p99 \(percentile(99))  max \(decimal(Double(maximum.components.attoseconds) / 1e15 + Double(maximum.components.seconds) * 1e3))
            """
    }

    static func decimal(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        return "\(hundredths / 100).\(pad2(hundredths % 100))"
    }

    static func pad2(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
    static func pad(_ value: Int) -> String { value < 10 ? "00\(value)" : value < 100 ? "0\(value)" : "\(value)" }

    static func wallClockMilliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }
}
