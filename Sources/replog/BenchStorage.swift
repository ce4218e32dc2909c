import ArgumentParser
import Foundation
import NIOCore
import ReplogModel
import ReplogStorage

#if canImport(Glibc)
    import Glibc
#endif

/// `replog bench storage`: durable write throughput and latency of `ReplicaStore`.
struct BenchStorage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Measure durable writes (100 B and 64 KiB at 1, 16 and 128 concurrent writers)."
    )

    @Option(help: "Directory for the benchmark stores (removed afterwards).")
    var path = "/tmp/replog-bench-storage"

    @Option(help: "Seconds per case.")
    var seconds = 3.0

    @Option(parsing: .upToNextOption, help: "Value sizes in bytes.")
    var sizes: [Int] = [100, 65536]

    @Option(parsing: .upToNextOption, help: "Numbers of concurrent writers.")
    var writers: [Int] = [1, 16, 128]

    @Option(help: "Segment preallocation: fallocate or zero-fill.")
    var preallocation = "fallocate"

    func run() async throws {
        let allocation: StoreOptions.Preallocation = preallocation == "zero-fill" ? .zeroFill : .fallocate
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let raw = try rawFsyncLatency(directory: path)
        print(
            String(
                format: "raw 4 KiB pwrite+fdatasync: %.0f/s, avg %.3f ms, p50 %.3f ms, p99 %.3f ms",
                raw.rate,
                raw.average * 1000,
                raw.p50 * 1000,
                raw.p99 * 1000
            )
        )
        let sequential = try rawSequentialBandwidth(directory: path)
        print(String(format: "raw sequential write (1 MiB writes, one fdatasync): %.0f MiB/s", sequential))
        print("size     writers  writes/s    MiB/s  fsyncs/s  writes/fsync  p50 ms  p99 ms  reopen ms")
        for size in sizes {
            for count in writers {
                let result = try await runCase(size: size, writers: count, allocation: allocation)
                let label = size >= 1024 ? "\(size / 1024) KiB" : "\(size) B"
                print(
                    label.padding(toLength: 8, withPad: " ", startingAt: 0)
                        + String(
                            format: " %7d %9.0f %8.1f %9.0f %13.1f %7.3f %7.3f %10.1f",
                            count,
                            result.writesPerSecond,
                            result.megabytesPerSecond,
                            result.syncsPerSecond,
                            result.writesPerSecond / max(result.syncsPerSecond, 1),
                            result.p50 * 1000,
                            result.p99 * 1000,
                            result.reopen * 1000
                        )
                )
            }
        }
    }

    struct CaseResult {
        var writesPerSecond: Double
        var megabytesPerSecond: Double
        var syncsPerSecond: Double
        var p50: Double
        var p99: Double
        /// Time to open the store again afterwards (lock, metadata, replay of every segment).
        var reopen: Double
    }

    func runCase(size: Int, writers: Int, allocation: StoreOptions.Preallocation) async throws -> CaseResult {
        let directory = path + "/case-\(size)-\(writers)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try ReplicaStore(directory: directory, options: StoreOptions(preallocation: allocation))
        // Warm up: create the first segment outside the measurement.
        try await store.persist(actions: [.learned(.append(ByteBuffer(repeating: 1, count: size)), at: 1, proposal: 1)])
        let before = store.statistics
        let clock = ContinuousClock()
        let started = clock.now
        let deadline = started.advanced(by: .milliseconds(Int(seconds * 1000)))
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for writer in 0..<writers {
                group.addTask {
                    let value = ByteBuffer(repeating: UInt8(truncatingIfNeeded: writer), count: size)
                    var position = Position(2 + writer)
                    var latencies: [Double] = []
                    while clock.now < deadline {
                        let begin = clock.now
                        try await store.persist(actions: [.learned(.append(value), at: position, proposal: 1)])
                        latencies.append(Self.seconds(clock.now - begin))
                        position += Position(writers)
                    }
                    return latencies
                }
            }
            var all: [Double] = []
            for try await part in group { all += part }
            return all.sorted()
        }
        let elapsed = Self.seconds(clock.now - started)
        let after = store.statistics
        await store.close()
        let reopenStart = clock.now
        let reopened = try ReplicaStore(directory: directory, options: StoreOptions(preallocation: allocation))
        let reopen = Self.seconds(clock.now - reopenStart)
        await reopened.close()
        let writes = Double(latencies.count)
        return CaseResult(
            writesPerSecond: writes / elapsed,
            megabytesPerSecond: writes * Double(size) / elapsed / 1_048_576,
            syncsPerSecond: Double(after.syncs - before.syncs) / elapsed,
            p50: latencies.isEmpty ? 0 : latencies[latencies.count / 2],
            p99: latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, latencies.count * 99 / 100)],
            reopen: reopen
        )
    }

    /// The disk's own latency for a small durable write, for comparison.
    func rawFsyncLatency(directory: String) throws -> (rate: Double, average: Double, p50: Double, p99: Double) {
        let file = directory + "/raw-fsync"
        let fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw StorageFailure("cannot create \(file): errno \(errno)") }
        defer {
            close(fd)
            unlink(file)
        }
        _ = posix_fallocate(fd, 0, 64 << 20)
        var block = [UInt8](repeating: 7, count: 4096)
        let clock = ContinuousClock()
        let started = clock.now
        var latencies: [Double] = []
        var offset = 0
        while clock.now - started < .milliseconds(Int(seconds * 1000)) {
            let begin = clock.now
            _ = block.withUnsafeMutableBytes { pwrite(fd, $0.baseAddress, 4096, off_t(offset)) }
            _ = fdatasync(fd)
            latencies.append(Self.seconds(clock.now - begin))
            offset = (offset + 4096) % (64 << 20)
            block[0] &+= 1
        }
        let total = Self.seconds(clock.now - started)
        latencies.sort()
        return (
            Double(latencies.count) / total,
            latencies.reduce(0, +) / Double(latencies.count),
            latencies[latencies.count / 2],
            latencies[latencies.count * 99 / 100]
        )
    }

    /// The disk's sequential bandwidth: 256 MiB in 1 MiB writes, made durable by one fdatasync.
    func rawSequentialBandwidth(directory: String) throws -> Double {
        let file = directory + "/raw-sequential"
        let fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw StorageFailure("cannot create \(file): errno \(errno)") }
        defer {
            close(fd)
            unlink(file)
        }
        let chunk = [UInt8](repeating: 0x5A, count: 1 << 20)
        let clock = ContinuousClock()
        let started = clock.now
        for index in 0..<256 {
            _ = chunk.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(index << 20)) }
        }
        _ = fdatasync(fd)
        return 256 / Self.seconds(clock.now - started)
    }

    static func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
