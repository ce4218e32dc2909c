import Foundation
import ReplogTestSupport
import Testing

/// `replog bench` (the cluster benchmark) run as a real process against a log server.
@Suite struct BenchCommandTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("replog-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    @Test func traceDrivenRunWritesOneLinePerAppend() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try await InMemoryLogServer()
        let trace = directory.appendingPathComponent("trace")
        try "# sizes as mesos-log benchmark takes them\n100B\n900B\n\n100B # again\n".write(
            to: trace,
            atomically: true,
            encoding: .utf8
        )
        let output = directory.appendingPathComponent("out")
        let result = try await ReplogProcess.run([
            "bench", "--coordinator", server.endpoint.description, "--insecure", "--input", trace.path,
            "--output", output.path, "--concurrency", "2", "--type", "zero",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("appends:      3 of 1100 bytes with 2 in flight"))
        #expect(result.stdout.contains("appends/s"))
        #expect(result.stdout.contains("latency (ms): p50 "))
        let lines = try String(contentsOf: output, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        for line in lines {
            #expect(
                line.range(of: #"^\d+\.\d{3} Appended (100|900) bytes in \d+\.\d{2} ms$"#, options: .regularExpression)
                    != nil,
                "\(line)"
            )
        }
        let stored = server.state.withLockedValue { $0.entries.values.map(\.readableBytes).sorted() }
        #expect(stored == [100, 100, 900])
        await server.stop()
    }

    @Test func sizeAndCountRun() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try await InMemoryLogServer()
        let result = try await ReplogProcess.run(
            ["bench", "--size", "64B", "--count", "20", "--concurrency", "4"],
            environment: ["REPLOG_COORDINATOR": server.endpoint.description, "REPLOG_INSECURE": "1"]
        )
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("appends:      20 of 1280 bytes with 4 in flight"))
        #expect(server.state.withLockedValue { $0.end } == 20)
        await server.stop()
    }

    @Test func badInputGetsClearErrors() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let base = ["bench", "--coordinator", "127.0.0.1:1", "--insecure"]
        let neither = try await ReplogProcess.run(base)
        #expect(neither.stderr.contains("give a trace with --input, or --size and --count"))
        let badSize = try await ReplogProcess.run(base + ["--size", "12XB", "--count", "1"])
        #expect(badSize.stderr.contains("--size '12XB' is not a size"))
        let trace = directory.appendingPathComponent("bad-trace")
        try "100B\nlots\n".write(to: trace, atomically: true, encoding: .utf8)
        let badTrace = try await ReplogProcess.run(base + ["--input", trace.path])
        #expect(badTrace.stderr.contains("line 2: 'lots' is not a size"))
        let both = try await ReplogProcess.run(base + ["--input", trace.path, "--size", "1B"])
        #expect(both.stderr.contains("not both"))
        // Other benchmarks take no cluster options, even when the environment sets them.
        let codec = try await ReplogProcess.run(
            ["bench", "codec", "--help"],
            environment: ["REPLOG_COORDINATOR": "127.0.0.1:1"]
        )
        #expect(codec.status == 0, "\(codec.stderr)")
    }
}
