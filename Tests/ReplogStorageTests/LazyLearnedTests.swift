import Foundation
import NIOCore
import ReplogModel
import Testing

@testable import ReplogStorage

/// Learned marks alone are written without an fdatasync of their own (``WriteEngine``).
@Suite("Learned marks without their own fdatasync")
struct LazyLearnedTests {
    /// The aligned size of the record of `appendAction(position, text)`.
    func recordSize(_ text: String) -> Int {
        RecordFormat.alignedSize(bodySize: RecordFormat.bodySize(of: appendAction(1, text, learned: false)))
    }

    var learnedSize: Int { RecordFormat.alignedSize(bodySize: RecordFormat.learnedBodySize) }

    /// Small segments; marks wait `delay` for an fdatasync (long: a busy machine must not make
    /// the quiet-time sync happen in the middle of a check).
    func options(delay: Duration = .seconds(600)) -> StoreOptions {
        var options = smallSegments
        options.learnedSyncDelay = delay
        return options
    }

    @Test func learnedMarksAloneAreNotSyncedUntilAWriteOrClose() async throws {
        let temp = TemporaryDirectory("lazysync")
        defer { temp.remove() }
        let store = try ReplicaStore(directory: temp.store, options: options())
        try await store.persist(actions: (1...3).map { appendAction(Position($0), "v\($0)", learned: false) })
        let afterValues = store.statistics.syncs
        try await store.persist(learned: 1, count: 2, proposal: 1)
        try await store.persist(learned: 3, count: 1, proposal: 1)
        #expect(store.statistics.syncs == afterValues)
        #expect(store.unlearnedPositions(in: 1...3).isEmpty, "written and visible at once")
        // A value and marks in one call cost one fdatasync, which covers the marks before it too.
        try await store.persist([
            .actions([appendAction(4, "v4", learned: false)]), .learned(first: 4, count: 1, proposal: 1),
        ])
        #expect(store.statistics.syncs == afterValues + 1)
        try await store.persist(actions: [appendAction(5, "v5", learned: false)])
        try await store.persist(learned: 5, count: 1, proposal: 1)
        #expect(store.statistics.syncs == afterValues + 2)
        await store.close()  // syncs the last mark
        let reopened = try ReplicaStore(directory: temp.store, options: options())
        #expect(reopened.unlearnedPositions(in: 1...5).isEmpty)
        await reopened.close()
    }

    @Test func learnedMarksAloneAreSyncedAfterAQuietDelay() async throws {
        let temp = TemporaryDirectory("lazyquiet")
        defer { temp.remove() }
        let store = try ReplicaStore(directory: temp.store, options: options(delay: .milliseconds(200)))
        try await store.persist(actions: [appendAction(1, "v1", learned: false)])
        let afterValue = store.statistics.syncs
        try await store.persist(learned: 1, count: 1, proposal: 1)
        let deadline = ContinuousClock.now + .seconds(30)
        while store.statistics.syncs == afterValue, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(store.statistics.syncs == afterValue + 1)
        await store.close()
    }

    /// A power failure loses unsynced marks in any order: the first lost while a later one reached
    /// the disk is a torn tail (nothing acknowledged as durable is lost), not damage.
    @Test func aLostUnsyncedMarkBeforeAWrittenOneIsATornTail() async throws {
        let temp = TemporaryDirectory("lazytorn")
        defer { temp.remove() }
        do {
            let store = try ReplicaStore(directory: temp.store, options: smallSegments)
            try await store.persist(actions: [appendAction(1, "one", learned: false)])
            try await store.persist(actions: [appendAction(2, "two", learned: false)])
            try await store.persist(learned: 1, count: 1, proposal: 1)
            try await store.persist(learned: 2, count: 1, proposal: 1)
            await store.close()
        }
        let firstMark = SegmentFile.headerSize + recordSize("one") + recordSize("two")
        try zeroBytes(try segmentFiles(temp.store)[0], firstMark..<(firstMark + learnedSize))
        let store = try ReplicaStore(directory: temp.store, options: smallSegments)
        #expect(store.corruption.isEmpty)
        #expect(try store.read(1...2).map(\.position) == [1, 2])
        #expect(store.unlearnedPositions(in: 1...2) == [1, 2])
        await store.close()
    }

    /// A value synced after an unsynced mark made the mark durable too: losing the mark later is
    /// damage, and the value after it is kept.
    @Test func aMarkCoveredByALaterSyncIsDamageWhenLost() async throws {
        let temp = TemporaryDirectory("lazycovered")
        defer { temp.remove() }
        do {
            let store = try ReplicaStore(directory: temp.store, options: smallSegments)
            try await store.persist(actions: [appendAction(1, "one", learned: false)])
            try await store.persist(learned: 1, count: 1, proposal: 1)
            try await store.persist(actions: [appendAction(2, "two", learned: false)])
            await store.close()
        }
        let mark = SegmentFile.headerSize + recordSize("one")
        try zeroBytes(try segmentFiles(temp.store)[0], mark..<(mark + learnedSize))
        #expect(throws: StorageError.self) { _ = try ReplicaStore(directory: temp.store, options: smallSegments) }
        var options = smallSegments
        options.corruptionPolicy = .quarantine
        let store = try ReplicaStore(directory: temp.store, options: options)
        #expect(store.corruption.count == 1)
        #expect(try store.read(1...2).map(\.position) == [1, 2])
        await store.close()
    }

    /// Values that continue in a new segment are synced there too: only learned marks go unsynced.
    @Test func valuesSpanningANewSegmentAreSyncedInBoth() async throws {
        let temp = TemporaryDirectory("lazyspan")
        defer { temp.remove() }
        let store = try ReplicaStore(directory: temp.store, options: options())
        let before = store.statistics.syncs
        // About 6 KiB of values in one call: more than one 4 KiB segment holds.
        let values = (1...20).map { appendAction(Position($0), String(repeating: "v", count: 280), learned: false) }
        try await store.persist(actions: values)
        #expect(try segmentFiles(temp.store).count == 2)
        #expect(store.statistics.syncs == before + 2, "the chunk in each segment has its own fdatasync")
        await store.close()
    }

    /// A segment is never left with unsynced marks once the next one begins: recovery would take
    /// their loss for damage.
    @Test func aNewSegmentBeginsOnlyAfterTheMarksBeforeItAreDurable() async throws {
        let temp = TemporaryDirectory("lazyroll")
        defer { temp.remove() }
        let store = try ReplicaStore(directory: temp.store, options: options())
        let initial = store.statistics.syncs
        var position: Position = 1
        while try segmentFiles(temp.store).count < 2 {
            try await store.persist(actions: [
                appendAction(position, String(repeating: "x", count: 300), learned: false)
            ])
            let before = store.statistics.syncs
            try await store.persist(learned: position, count: 1, proposal: 1)
            #expect(store.statistics.syncs == before)
            position += 1
        }
        // The value that opened the second segment cost two fdatasyncs: the old segment's marks, its own.
        #expect(store.statistics.syncs == initial + Int(position - 1) + 1)
        await store.close()
    }
}
