import ArgumentParser
import Foundation
import NIOCore
import ReplogModel
import ReplogStorage

#if canImport(Glibc)
    import Glibc
#endif

/// Hidden: the child process of the storage crash and full-disk tests.
///
/// Appends learned values to a store as fast as it can from several writers and prints
/// `durable <position>` after each write returned (that is, after its fsync). The parent kills it
/// at random moments and checks that every reported position is intact after reopening.
struct StorageCrashChild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage-crash-child",
        abstract: "Test helper: append to a store and report durable positions.",
        shouldDisplay: false
    )

    @Option var path: String
    @Option var segmentSize = 64 * 1024
    @Option var writers = 4
    @Option var count = 1_000_000
    @Option(help: "Make every Nth write of writer 0 a learned TRUNCATE to 100 positions below it (0 = never).")
    var truncateEvery = 0
    @Option(help: "Set RLIMIT_FSIZE to this many bytes (simulates a full disk).")
    var fileSizeLimit: Int?

    /// The value the tests expect at `position`.
    static func value(at position: Position) -> ByteBuffer {
        let unit = "p\(position):"
        let length = Int((position &* 37) % 900) + 1
        var text = String(repeating: unit, count: length / unit.count + 1)
        text.removeLast(text.count - length)
        return ByteBuffer(string: text)
    }

    func run() async throws {
        if let fileSizeLimit {
            signal(SIGXFSZ, SIG_IGN)
            var limit = rlimit(rlim_cur: rlim_t(fileSizeLimit), rlim_max: rlim_t(fileSizeLimit))
            guard setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit) == 0 else {
                throw StorageFailure("setrlimit failed: errno \(errno)")
            }
        }
        let store = try ReplicaStore(directory: path, options: StoreOptions(segmentSize: segmentSize))
        let start = store.end + 1
        Self.say("ready \(store.end)")
        let writers = self.writers
        let count = self.count
        let truncateEvery = self.truncateEvery
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        var position = start + Position(writer)
                        var written = 0
                        while position < start + Position(count) {
                            written += 1
                            if writer == 0 && truncateEvery > 0 && written % truncateEvery == 0 && position > 100 {
                                try await store.persist(actions: [
                                    .learned(.truncate(to: position - 100), at: position, proposal: 1)
                                ])
                                Self.say("truncated \(position) \(position - 100)")
                            } else {
                                try await store.persist(actions: [
                                    .learned(.append(Self.value(at: position)), at: position, proposal: 1)
                                ])
                                Self.say("durable \(position)")
                            }
                            position += Position(writers)
                        }
                    }
                }
                try await group.waitForAll()
            }
        } catch {
            Self.say("failed \(error)")
            await store.close()
            throw ExitCode(3)
        }
        await store.close()
    }

    static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
