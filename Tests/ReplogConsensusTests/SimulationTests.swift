import ReplogTestKit
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The deterministic simulation. `REPLOG_SIM_SEED=N` replays one seed with its trace;
/// `REPLOG_SIM_SEEDS=N` runs N seeds instead of the CI set (use a release build for long runs);
/// `REPLOG_SIM_FIRST=N` starts at seed N.
@Suite struct SimulationTests {
    static func environment(_ name: String) -> UInt64? {
        guard let value = getenv(name) else { return nil }
        return UInt64(String(cString: value))
    }

    static let ciSeeds: UInt64 = 500

    func report(_ result: SimulationResult) -> String {
        var lines = ["simulation failed: \(result.options.description)"]
        lines += result.violations.map { "  violation: \($0)" }
        lines.append("replay: \(result.replayCommand)")
        return lines.joined(separator: "\n")
    }

    /// Seeds that once failed, kept so that their bugs stay fixed: 22660, 33392 and 37744 (a
    /// replica behind a truncation never caught up), 46775 (an acknowledged append lost when a disk
    /// was wiped mid-write, before recovery fenced older proposals).
    @Test(arguments: [22660, 33392, 37744, 46775] as [UInt64])
    func regression(seed: UInt64) {
        let result = Simulator.run(SimulationOptions(seed: seed))
        if !result.passed { Issue.record(Comment(rawValue: report(result))) }
    }

    @Test func seeds() {
        if let seed = Self.environment("REPLOG_SIM_SEED") {
            var options = SimulationOptions(seed: seed)
            options.trace = true
            let result = Simulator.run(options)
            for line in result.trace.suffix(Int(Self.environment("REPLOG_SIM_TRACE_LINES") ?? 400)) { print(line) }
            print(
                "\(options.description): \(result.events) events, \(result.acknowledgedAppends) acknowledged appends, "
                    + "\(result.simulatedMilliseconds) ms simulated"
            )
            if !result.passed { Issue.record(Comment(rawValue: report(result))) }
            return
        }
        let first = Self.environment("REPLOG_SIM_FIRST") ?? 1
        let count = Self.environment("REPLOG_SIM_SEEDS") ?? Self.ciSeeds
        var failures = 0
        var acknowledged = 0
        var events = 0
        var counts: [String: Int] = [:]
        var firstFailure: UInt64?
        for seed in first..<first + count {
            let result = Simulator.run(SimulationOptions(seed: seed))
            acknowledged += result.acknowledgedAppends
            events += result.events
            counts.merge(result.counts, uniquingKeysWith: +)
            if !result.passed {
                failures += 1
                if firstFailure == nil { firstFailure = seed }
                // Replay the failing seed with its trace so the report shows what happened.
                var options = result.options
                options.trace = true
                let traced = Simulator.run(options)
                for line in traced.trace.suffix(150) { print(line) }
                Issue.record(Comment(rawValue: report(result)))
                if failures >= 3 { break }
            }
        }
        print(
            "simulation: \(count) seeds from \(first), \(failures) failed, \(acknowledged) acknowledged appends, "
                + "\(events) events" + (firstFailure.map { ", first failing seed \($0)" } ?? "")
        )
        print(
            "simulation counts: "
                + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        )
    }
}
