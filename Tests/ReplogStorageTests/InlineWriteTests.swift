import Foundation
import NIOCore
import ReplogModel
import Testing

@testable import ReplogStorage

/// `inlineWrites`: a caller writes on its own thread while the I/O thread is idle, and queues
/// behind it otherwise; either way every acknowledged write is durable and in order.
@Suite("Inline writes")
struct InlineWriteTests {
    var inline: StoreOptions {
        var options = smallSegments
        options.inlineWrites = true
        return options
    }

    @Test func aLoneWriterWritesInlineAndEverythingIsThereAfterReopening() async throws {
        let temp = TemporaryDirectory("inline")
        defer { temp.remove() }
        let store = try ReplicaStore(directory: temp.store, options: inline)
        for position in 1...40 as ClosedRange<Position> {
            try await store.persist(actions: [appendAction(position, "v\(position)", learned: false)])
            try await store.persist(learned: position, count: 1, proposal: 1)
        }
        #expect(store.statistics.syncs >= 40, "each value was made durable before its call returned")
        try await store.persist(promise: 9)
        await store.close()
        let reopened = try ReplicaStore(directory: temp.store, options: inline)
        #expect(try reopened.read(1...40).map(\.position) == Array(1...40))
        #expect(reopened.unlearnedPositions(in: 1...40).isEmpty)
        #expect(reopened.metadata.promised == 9)
        await reopened.close()
    }

    @Test func concurrentWritersShareTheWriteWithTheIOThread() async throws {
        let temp = TemporaryDirectory("inlineconcurrent")
        defer { temp.remove() }
        let store = try ReplicaStore(directory: temp.store, options: inline)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    for index in 0..<15 {
                        let position = Position(writer * 15 + index + 1)
                        try await store.persist(actions: [appendAction(position, "w\(writer)-\(index)", learned: false)]
                        )
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(store.count == 120)
        await store.close()
        let reopened = try ReplicaStore(directory: temp.store, options: inline)
        let actions = try reopened.read(1...120)
        #expect(actions.map(\.position) == Array(1...120))
        #expect(actions[16].value == .append(ByteBuffer(string: "w1-1")))
        await reopened.close()
    }
}
