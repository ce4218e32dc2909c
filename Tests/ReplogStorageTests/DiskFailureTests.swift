import Foundation
import MetricsTestKit
import NIOCore
import ReplogModel
import Testing

@testable import ReplogStorage

#if canImport(Glibc)
    import Glibc
#endif

/// A store's failpoint for one test: fails the calls that match a rule, as many times as the rule
/// says, and lets every other call through to the real file system.
final class FaultPlan: @unchecked Sendable {
    private struct Rule {
        var matches: @Sendable (StorageSystemCall) -> Bool
        var fault: StorageFault
        var remaining: Int
    }

    private let lock = NSLock()
    private var rules: [Rule] = []
    private var seen: [StorageSystemCall] = []

    /// Fails the next `times` calls that `matches` accepts with `fault`.
    func fail(
        _ times: Int = 1,
        with fault: StorageFault,
        where matches: @escaping @Sendable (StorageSystemCall) -> Bool
    ) {
        lock.withLock { rules.append(Rule(matches: matches, fault: fault, remaining: times)) }
    }

    /// The calls that were failed, in order.
    var injected: [StorageSystemCall] { lock.withLock { seen } }

    var failpoint: StorageFailpoint {
        { [self] call in
            lock.withLock {
                guard let index = rules.firstIndex(where: { $0.remaining > 0 && $0.matches(call) }) else { return nil }
                rules[index].remaining -= 1
                seen.append(call)
                return rules[index].fault
            }
        }
    }
}

extension StorageSystemCall {
    var isSegmentWrite: Bool {
        if case .write(let path, _, _) = self { return path.hasSuffix(".segment") }
        return false
    }

    var isSegmentSync: Bool {
        if case .sync(let path) = self { return path.hasSuffix(".segment") }
        return false
    }
}

/// The value the tests store at `position`.
private func value(_ position: Position) -> String {
    "value of position \(position) " + String(repeating: "x", count: Int(position % 97))
}

private func persistValue(_ store: ReplicaStore, _ position: Position) async throws {
    try await store.persist(actions: [appendAction(position, value(position))])
}

/// Persists `positions` from concurrent writers, one call each; returns each call's outcome.
private func writeConcurrently(_ store: ReplicaStore, _ positions: [Position]) async -> [Position: StorageError?] {
    await withTaskGroup(of: (Position, StorageError?).self) { group in
        for position in positions {
            group.addTask {
                do {
                    try await persistValue(store, position)
                    return (position, nil)
                } catch {
                    return (position, error as? StorageError ?? .failed("\(error)"))
                }
            }
        }
        var outcomes: [Position: StorageError?] = [:]
        for await (position, error) in group { outcomes[position] = error }
        return outcomes
    }
}

/// Checks, on a reopened store, that every acknowledged position holds its value and every other
/// position written is either absent or intact: never damaged, never someone else's bytes.
private func expectConsistent(
    _ store: ReplicaStore,
    acknowledged: [Position],
    failed: [Position],
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    #expect(store.corruption.isEmpty, "\(store.corruption)", sourceLocation: sourceLocation)
    for position in acknowledged {
        let action = try store.action(at: position)
        #expect(
            action?.value == .append(bytes(value(position))),
            "position \(position)",
            sourceLocation: sourceLocation
        )
    }
    for position in failed {
        if let action = try store.action(at: position) {
            #expect(
                action.value == .append(bytes(value(position))),
                "position \(position)",
                sourceLocation: sourceLocation
            )
        }
    }
}

private let segmentSize = 65536

/// What a failing disk does in the middle of a write, through the store's failpoint: the real
/// POSIX calls run, except the one failed call (and, for a short write, its first bytes do reach
/// the file).
@Suite("Failing fsyncs and full disks in the middle of a write")
struct DiskFailureTests {
    @Test func anFsyncThatFailsFailsItsCallersAndEveryLaterWriteUntilTheStoreIsReopened() async throws {
        let temp = TemporaryDirectory("fsync-eio")
        defer { temp.remove() }
        let plan = FaultPlan()
        let metrics = TestMetrics()
        let options = StoreOptions(segmentSize: segmentSize, metricsFactory: metrics, failpoint: plan.failpoint)
        let store = try ReplicaStore(directory: temp.store, options: options)
        for position in Position(1)...20 { try await persistValue(store, position) }
        try await store.persist(promise: 5)

        plan.fail(with: StorageFault(errno: EIO), where: \.isSegmentSync)
        let outcomes = await writeConcurrently(store, Array(21...28))
        #expect(plan.injected.count == 1)
        // Nobody whose record was not made durable hears success; the store stops writing.
        for (position, error) in outcomes {
            guard case .failed? = error else {
                Issue.record("position \(position): \(error.map { "\($0)" } ?? "success") instead of a failed store")
                continue
            }
        }
        await #expect(throws: StorageError.self) { try await persistValue(store, 29) }
        await #expect(throws: StorageError.self) { try await store.persist(promise: 6) }
        #expect(store.metadata.promised == 5)
        #expect(try metrics.expectCounter("replog_storage_write_failures").totalValue == 1)
        #expect(try store.read(1...40).map(\.position) == Array(1...20))
        await store.close()

        let reopened = try ReplicaStore(directory: temp.store, options: StoreOptions(segmentSize: segmentSize))
        try expectConsistent(reopened, acknowledged: Array(1...20), failed: Array(21...28))
        #expect(reopened.metadata.promised == 5)
        try await persistValue(reopened, 30)
        try await reopened.persist(promise: 6)
        await reopened.close()
        let again = try ReplicaStore(directory: temp.store, options: StoreOptions(segmentSize: segmentSize))
        try expectConsistent(again, acknowledged: Array(1...20) + [30], failed: Array(21...28))
        #expect(again.metadata.promised == 6)
        await again.close()
    }

    @Test func aWriteThatRunsOutOfSpaceHalfwayFailsItsCallersAndTheNextWritesTakeItsPlace() async throws {
        let temp = TemporaryDirectory("enospc")
        defer { temp.remove() }
        let plan = FaultPlan()
        let options = StoreOptions(segmentSize: segmentSize, failpoint: plan.failpoint)
        let store = try ReplicaStore(directory: temp.store, options: options)
        for position in Position(1)...10 { try await persistValue(store, position) }

        plan.fail(with: StorageFault(errno: ENOSPC, written: 100), where: \.isSegmentWrite)
        let outcomes = await writeConcurrently(store, Array(11...18))
        let failed = outcomes.filter { $0.value != nil }.keys.sorted()
        let acknowledged = outcomes.filter { $0.value == nil }.keys.sorted()
        #expect(!failed.isEmpty)
        for position in failed {
            guard case .diskFull? = outcomes[position]! else {
                Issue.record("position \(position): \(outcomes[position]!.map { "\($0)" } ?? "") instead of disk full")
                continue
            }
            // What the short write left on disk was wiped; the record is not served.
            #expect(try store.action(at: position) == nil)
        }
        // The condition cleared: writing goes on, over the wiped bytes.
        for position in Position(19)...25 { try await persistValue(store, position) }
        await store.close()

        let metrics = TestMetrics()
        let reopened = try ReplicaStore(
            directory: temp.store,
            options: StoreOptions(segmentSize: segmentSize, metricsFactory: metrics)
        )
        try expectConsistent(reopened, acknowledged: Array(1...10) + acknowledged + Array(19...25), failed: [])
        for position in failed { #expect(try reopened.action(at: position) == nil) }
        #expect(try metrics.expectCounter("replog_storage_torn_tails").totalValue == 0)
        await reopened.close()
    }

    @Test func aShortWriteThatCannotBeWipedStopsTheStoreAndIsCutAsATornTailOnReopen() async throws {
        let temp = TemporaryDirectory("enospc-wipe")
        defer { temp.remove() }
        let plan = FaultPlan()
        let options = StoreOptions(segmentSize: segmentSize, failpoint: plan.failpoint)
        let store = try ReplicaStore(directory: temp.store, options: options)
        for position in Position(1)...10 { try await persistValue(store, position) }

        // The record's write stops after 40 bytes, then the zeros meant to wipe them fail too.
        plan.fail(with: StorageFault(errno: ENOSPC, written: 40), where: \.isSegmentWrite)
        plan.fail(with: StorageFault(errno: EIO), where: \.isSegmentWrite)
        await #expect(throws: StorageError.diskFull(path: try segmentFiles(temp.store)[0], errno: ENOSPC)) {
            try await persistValue(store, 11)
        }
        await #expect(throws: StorageError.self) { try await persistValue(store, 12) }
        await store.close()

        let metrics = TestMetrics()
        let reopened = try ReplicaStore(
            directory: temp.store,
            options: StoreOptions(segmentSize: segmentSize, metricsFactory: metrics)
        )
        try expectConsistent(reopened, acknowledged: Array(1...10), failed: [])
        #expect(try reopened.action(at: 11) == nil)
        #expect(try metrics.expectCounter("replog_storage_torn_tails").totalValue == 1)
        try await persistValue(reopened, 11)
        #expect(try reopened.action(at: 11)?.value == .append(bytes(value(11))))
        await reopened.close()
    }

    @Test func metadataThatCannotBeWrittenOrSyncedKeepsTheOldMetadata() async throws {
        let temp = TemporaryDirectory("metadata-full")
        defer { temp.remove() }
        let plan = FaultPlan()
        let store = try ReplicaStore(directory: temp.store, options: StoreOptions(failpoint: plan.failpoint))
        try await store.persist(promise: 5)

        plan.fail(with: StorageFault(errno: ENOSPC, written: 10)) {
            if case .write(let path, _, _) = $0 { path.hasSuffix(".tmp") } else { false }
        }
        await #expect(throws: StorageError.self) { try await store.persist(promise: 9) }
        #expect(store.metadata.promised == 5)
        plan.fail(with: StorageFault(errno: EIO)) { $0.path.hasSuffix(".tmp") }
        await #expect(throws: StorageError.self) { try await store.persist(promise: 9) }
        #expect(store.metadata.promised == 5)
        #expect(plan.injected.count == 2)
        // The condition cleared.
        try await store.persist(promise: 9)
        await store.close()

        let reopened = try ReplicaStore(directory: temp.store)
        #expect(reopened.metadata.promised == 9)
        #expect(!(try FileIO.listDirectory(temp.store)).contains { $0.hasSuffix(".tmp") })
        await reopened.close()
    }
}

/// A real full disk: a small tmpfs mounted for the test (needs CAP_SYS_ADMIN, as root in the
/// project's containers; the test is skipped where mounting is not allowed).
@Suite("A real full file system (tmpfs)")
struct FullTmpfsTests {
    static let canMount: Bool = {
        let probe = NSTemporaryDirectory() + "replog-tmpfs-probe-\(UUID().uuidString)"
        guard (try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)) != nil
        else { return false }
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard mount("tmpfs", probe, "tmpfs", 0, "size=64k") == 0 else { return false }
        umount2(probe, Int32(MNT_DETACH))
        return true
    }()

    @Test(.enabled(if: canMount, "mounting a tmpfs needs CAP_SYS_ADMIN"))
    func writesFailWithDiskFullWhenTheFileSystemFillsUpAndResumeWhenSpaceIsFreed() async throws {
        let temp = TemporaryDirectory("tmpfs")
        defer { temp.remove() }
        let mountPoint = temp.path + "/mnt"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard mount("tmpfs", mountPoint, "tmpfs", 0, "size=1m") == 0 else {
            Issue.record("mount failed: \(String(cString: strerror(errno)))")
            return
        }
        defer { umount2(mountPoint, Int32(MNT_DETACH)) }
        let directory = mountPoint + "/store"
        let store = try ReplicaStore(directory: directory, options: StoreOptions(segmentSize: segmentSize))
        for position in Position(1)...5 { try await persistValue(store, position) }
        try await store.persist(promise: 3)

        // Fill what is left of the file system.
        let filler = mountPoint + "/filler"
        let fd = open(filler, O_WRONLY | O_CREAT, 0o644)
        #expect(fd >= 0)
        let block = [UInt8](repeating: 0xAB, count: 4096)
        while block.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress!, $0.count) }) > 0 {}
        #expect(errno == ENOSPC)
        close(fd)

        // The open segment was preallocated: writes go on until a new segment is needed, and that
        // one cannot be made. Eight writers keep writing until each gets its error.
        let acknowledged = await withTaskGroup(of: ([Position], StorageError?).self) { group in
            for writer in 0..<8 {
                group.addTask {
                    var done: [Position] = []
                    var position = Position(6 + writer)
                    while position < 10_000 {
                        do {
                            try await persistValue(store, position)
                        } catch {
                            return (done, error as? StorageError)
                        }
                        done.append(position)
                        position += 8
                    }
                    return (done, nil)
                }
            }
            var acknowledged: [Position] = []
            for await (done, error) in group {
                acknowledged += done
                guard case .diskFull? = error else {
                    Issue.record("a writer stopped with \(error.map { "\($0)" } ?? "no error") instead of disk full")
                    continue
                }
            }
            return acknowledged
        }
        #expect(acknowledged.count > 8)
        await #expect(throws: StorageError.self) { try await store.persist(promise: 4) }
        #expect(store.metadata.promised == 3)

        // Space comes back: the same store writes again without a restart, into a new segment
        // (how much room the full one has left depends on how the failed writes were grouped, so
        // enough is written to need the next one).
        try FileManager.default.removeItem(atPath: filler)
        let later = Array(Position(20_000)..<20_064)
        for position in later { try await persistValue(store, position) }
        try await store.persist(promise: 4)
        await store.close()

        let reopened = try ReplicaStore(directory: directory, options: StoreOptions(segmentSize: segmentSize))
        try expectConsistent(reopened, acknowledged: Array(1...5) + acknowledged + later, failed: [])
        #expect(reopened.metadata.promised == 4)
        #expect(try segmentFiles(directory).count >= 2)
        await reopened.close()
    }
}
