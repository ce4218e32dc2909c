import Foundation
import NIOCore
import ReplogModel
import Testing

@testable import ReplogStorage

/// The `replog` executable built next to this test bundle.
func replogExecutable() throws -> String {
    let me = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    var directory = (me as NSString).deletingLastPathComponent
    for _ in 0..<3 {
        let candidate = directory + "/replog"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory = (directory as NSString).deletingLastPathComponent
    }
    throw StorageError.invalidRequest("no replog executable next to \(me); run `swift build --build-tests` first")
}

/// The value `replog storage-crash-child` writes at `position` (kept in step with its code).
func crashChildValue(at position: Position) -> ByteBuffer {
    let unit = "p\(position):"
    let length = Int((position &* 37) % 900) + 1
    var text = String(repeating: unit, count: length / unit.count + 1)
    text.removeLast(text.count - length)
    return ByteBuffer(string: text)
}

/// A running `replog storage-crash-child` whose stdout goes to a file.
struct Child {
    let process: Process
    let output: String

    init(store: String, output: String, extra: [String] = []) throws {
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: try replogExecutable())
        process.arguments =
            ["storage-crash-child", "--path", store, "--segment-size", "65536", "--writers", "4"] + extra
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = FileHandle.nullDevice
        self.output = output
        try process.run()
    }

    var lines: [String] {
        (try? String(contentsOfFile: output, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
    }

    var durable: [Position] {
        lines.compactMap { $0.hasPrefix("durable ") ? Position($0.dropFirst(8)) : nil }
    }

    /// Durable learned truncations: (position of the TRUNCATE action, its target).
    var truncations: [(Position, Position)] {
        lines.compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 3, parts[0] == "truncated", let at = Position(parts[1]), let to = Position(parts[2])
            else { return nil }
            return (at, to)
        }
    }

    func kill() {
        if process.isRunning { _ = Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Checks that every position in `durable` is stored, learned and holds the child's value.
func expectIntact(_ store: ReplicaStore, _ durable: [Position], sourceLocation: SourceLocation = #_sourceLocation)
    throws
{
    for position in durable where position >= store.begin {
        let action = try store.action(at: position)
        #expect(
            action?.value == .append(crashChildValue(at: position)),
            "position \(position)",
            sourceLocation: sourceLocation
        )
        #expect(action?.learned == true, sourceLocation: sourceLocation)
    }
}

@Suite("Real crashes and full disks", .serialized)
struct CrashTests {
    @Test func sigkillAtRandomMomentsLosesNothingAcknowledged() async throws {
        let temp = TemporaryDirectory("crash")
        defer { temp.remove() }
        try FileManager.default.createDirectory(atPath: temp.path, withIntermediateDirectories: true)
        let iterations = Int(ProcessInfo.processInfo.environment["REPLOG_CRASH_ITERATIONS"] ?? "") ?? 25
        var allDurable: [Position] = []
        var generator = SystemRandomNumberGenerator()
        for iteration in 0..<iterations {
            let child = try Child(store: temp.store, output: temp.path + "/out-\(iteration)")
            // Wait until it writes, then kill it at a random moment.
            let started = Date()
            while !child.lines.contains(where: { $0.hasPrefix("ready") }) && Date().timeIntervalSince(started) < 20 {
                try await Task.sleep(for: .milliseconds(5))
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 5...250, using: &generator)))
            child.kill()
            #expect(child.process.terminationReason == .uncaughtSignal)
            let durable = child.durable
            allDurable += durable
            let store = try ReplicaStore(directory: temp.store, options: StoreOptions(segmentSize: 65536))
            #expect(store.corruption.isEmpty)
            try expectIntact(store, allDurable)
            await store.close()
        }
        #expect(allDurable.count > iterations)
        #expect(Set(allDurable).count == allDurable.count)
    }

    @Test func sigkillWhileTruncatingKeepsBeginAndEverythingAboveIt() async throws {
        let temp = TemporaryDirectory("crashtruncate")
        defer { temp.remove() }
        try FileManager.default.createDirectory(atPath: temp.path, withIntermediateDirectories: true)
        var durable: [Position] = []
        var truncations: [(Position, Position)] = []
        var generator = SystemRandomNumberGenerator()
        var deleted = 0
        for iteration in 0..<10 {
            let child = try Child(
                store: temp.store,
                output: temp.path + "/out-\(iteration)",
                extra: ["--truncate-every", "20"]
            )
            let started = Date()
            while !child.lines.contains(where: { $0.hasPrefix("ready") }) && Date().timeIntervalSince(started) < 20 {
                try await Task.sleep(for: .milliseconds(5))
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 100...400, using: &generator)))
            child.kill()
            durable += child.durable
            truncations += child.truncations
            let store = try ReplicaStore(directory: temp.store, options: StoreOptions(segmentSize: 65536))
            let target = truncations.map(\.1).max() ?? 0
            #expect(store.begin >= target)
            try expectIntact(store, durable)
            for (at, to) in truncations where at >= store.begin {
                #expect(try store.action(at: at)?.value == .truncate(to: to))
            }
            #expect(try store.read(0...(store.begin == 0 ? 0 : store.begin - 1)).isEmpty || store.begin == 0)
            await store.close()
            deleted = try segmentFiles(temp.store).count
        }
        #expect(!truncations.isEmpty)
        // Whole segments below begin were deleted: far fewer remain than were written.
        let written = (durable.max() ?? 0) * 450 / 65536
        #expect(deleted < max(Int(written), 3))
    }

    @Test func fullDiskFailsCleanlyAndKeepsWhatWasDurable() async throws {
        let temp = TemporaryDirectory("full")
        defer { temp.remove() }
        try FileManager.default.createDirectory(atPath: temp.path, withIntermediateDirectories: true)
        let first = try Child(store: temp.store, output: temp.path + "/out0", extra: ["--count", "300"])
        first.process.waitUntilExit()
        #expect(first.process.terminationStatus == 0)
        // RLIMIT_FSIZE below the segment size: the newest segment fills up, then no new segment
        // can be made, as when the disk is full.
        let child = try Child(store: temp.store, output: temp.path + "/out", extra: ["--file-size-limit", "32768"])
        child.process.waitUntilExit()
        #expect(child.process.terminationStatus == 3)
        let failure = child.lines.first { $0.hasPrefix("failed ") }
        #expect(failure?.contains("no space left") == true, "\(child.lines.suffix(3))")
        #expect(child.durable.count > 0)
        let durable = first.durable + child.durable
        #expect(first.durable.count == 300)
        do {
            let store = try ReplicaStore(directory: temp.store, options: StoreOptions(segmentSize: 65536))
            #expect(store.corruption.isEmpty)
            try expectIntact(store, durable)
            await store.close()
        }
        // Once there is room again, writing resumes where it stopped.
        let again = try Child(store: temp.store, output: temp.path + "/out2", extra: ["--count", "50"])
        again.process.waitUntilExit()
        #expect(again.process.terminationStatus == 0)
        #expect(again.durable.count == 50)
        let store = try ReplicaStore(directory: temp.store, options: StoreOptions(segmentSize: 65536))
        try expectIntact(store, durable + again.durable)
        await store.close()
    }
}
