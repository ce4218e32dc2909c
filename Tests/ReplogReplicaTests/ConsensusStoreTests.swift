import Foundation
import NIOCore
import ReplogConsensus
import ReplogModel
import ReplogReplica
import ReplogStorage
import Testing

@Suite struct ConsensusStoreTests {
    let directory: String

    init() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "replog-consensus-store-\(UUID().uuidString)"
        )
        directory = url.path
    }

    func open() throws -> ReplicaStore {
        try ReplicaStore(directory: directory, options: StoreOptions(segmentSize: 1 << 16))
    }

    func append(_ text: String, at position: Position, proposal: Proposal = 1) -> Action {
        .learned(.append(ByteBuffer(string: text)), at: position, proposal: proposal)
    }

    @Test func stagedRecordsAreReadBeforeTheyAreDurableAndServedByTheStoreAfter() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try open()
        let view = ConsensusStore(store: store)
        let promise = ReplicaMetadata(status: .voting, promised: 5)
        let first: [StoreRecord] = [.metadata(promise), .actions([append("a", at: 1), append("b", at: 2)])]
        view.stage(first, token: 1)
        #expect(view.metadata == promise)
        #expect(view.end == 2)
        #expect(view.action(at: 2) == append("b", at: 2))
        #expect(store.end == 0, "nothing is durable yet")

        try await view.commit([(first, 1)])
        #expect(view.pendingCount == 0)
        #expect(store.end == 2)
        #expect(store.metadata.promised == 5)
        #expect(view.action(at: 1) == append("a", at: 1))
        await store.close()

        // What was committed survives a reopen.
        let reopened = try open()
        let again = ConsensusStore(store: reopened)
        #expect(again.metadata == promise)
        #expect(again.action(at: 2) == append("b", at: 2))
        await reopened.close()
    }

    @Test func aLaterStageOfThePositionOutlivesAnEarlierCommit() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try open()
        let view = ConsensusStore(store: store)
        let promised: [StoreRecord] = [.actions([Action(position: 3, promised: 4)])]
        let performed: [StoreRecord] = [.actions([append("x", at: 3, proposal: 4)])]
        view.stage(promised, token: 1)
        view.stage(performed, token: 2)
        try await view.commit([(promised, 1)])
        #expect(view.action(at: 3) == append("x", at: 3, proposal: 4), "token 2's staged value must still show")
        try await view.commit([(performed, 2)])
        #expect(view.pendingCount == 0)
        #expect(view.action(at: 3) == append("x", at: 3, proposal: 4))
        await store.close()
    }

    @Test func learnedTruncationMovesBeginAtOnce() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try open()
        let view = ConsensusStore(store: store)
        let entries: [StoreRecord] = [.actions((1...5).map { append("e\($0)", at: $0) })]
        view.stage(entries, token: 1)
        try await view.commit([(entries, 1)])
        let truncate: [StoreRecord] = [.actions([.learned(.truncate(to: 4), at: 6, proposal: 1)])]
        view.stage(truncate, token: 2)
        #expect(view.begin == 4)
        #expect(view.action(at: 2) == nil)
        #expect(view.action(at: 4) == append("e4", at: 4))
        try await view.commit([(truncate, 2)])
        #expect(store.begin >= 4)
        #expect(view.begin >= 4)
        #expect(view.end == 6)
        await store.close()
    }

    func written(_ text: String, at position: Position, proposal: Proposal = 1) -> Action {
        Action(position: position, promised: proposal, performed: proposal, value: .append(ByteBuffer(string: text)))
    }

    @Test func learnedRangesMarkStagedAndStoredValuesWithOneSmallRecordAndOneSync() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try open()
        let view = ConsensusStore(store: store)
        let big = String(repeating: "v", count: 4096)
        let stored: [StoreRecord] = [
            .actions([written(big, at: 1), written(big, at: 2), written("c", at: 3, proposal: 2)])
        ]
        view.stage(stored, token: 1)
        try await view.commit([(stored, 1)])
        let syncsBefore = store.statistics.syncs
        let bytesBefore = store.statistics.bytes

        // Values written and learned in the same commit, plus a range over stored values; the
        // value of position 3 was performed with another proposal and stays unlearned.
        let more: [StoreRecord] = [.actions([written("d", at: 4), written("e", at: 5)])]
        let learned: [StoreRecord] = [
            .learned(first: 1, count: 2, proposal: 1), .learned(first: 4, count: 2, proposal: 1),
        ]
        view.stage(more, token: 2)
        view.stage(learned, token: 3)
        for position: Position in [1, 2, 4, 5] {
            #expect(
                view.action(at: position)?.learned == true,
                "position \(position) reads learned before it is durable"
            )
            #expect(view.summary(at: position)?.learned == true)
        }
        #expect(view.action(at: 3)?.learned == false)
        #expect(try store.action(at: 1)?.learned == false, "nothing is durable yet")

        try await view.commit([(more, 2), (learned, 3)])
        #expect(view.pendingCount == 0)
        #expect(store.statistics.syncs == syncsBefore + 1, "values and learned marks share one fdatasync")
        #expect(store.statistics.bytes - bytesBefore < 1024, "learning does not rewrite the 4 KiB values")
        for position: Position in [1, 2, 4, 5] { #expect(try store.action(at: position)?.learned == true) }
        #expect(try store.action(at: 3)?.learned == false)
        await store.close()

        let reopened = try open()
        #expect(try reopened.action(at: 5) == .learned(.append(ByteBuffer(string: "e")), at: 5, proposal: 1))
        #expect(try reopened.summary(at: 3) == ActionSummary(performed: 2, learned: false, isTruncate: false))
        await reopened.close()
    }

    @Test func aLearnedRangeOverAStoredTruncateMovesBeginAtOnce() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try open()
        let view = ConsensusStore(store: store)
        let entries: [StoreRecord] = [
            .actions(
                (1...5).map { written("e\($0)", at: $0) } + [
                    Action(position: 6, promised: 1, performed: 1, value: .truncate(to: 4))
                ]
            )
        ]
        view.stage(entries, token: 1)
        try await view.commit([(entries, 1)])
        let learned: [StoreRecord] = [.learned(first: 1, count: 6, proposal: 1)]
        view.stage(learned, token: 2)
        #expect(view.begin == 4)
        #expect(view.action(at: 2) == nil)
        #expect(view.action(at: 4)?.learned == true)
        try await view.commit([(learned, 2)])
        #expect(store.begin == 4)
        #expect(view.action(at: 6)?.learned == true)
        await store.close()
    }

    @Test func aLearnedRangeOverAValueOfAnotherProposalIsRefused() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try open()
        try await store.persist(actions: [written("a", at: 1, proposal: 2)])
        await #expect(throws: StorageError.self) { try await store.persist(learned: 1, count: 1, proposal: 1) }
        await #expect(throws: StorageError.self) {
            try await store.persist([.actions([written("b", at: 2)]), .learned(first: 2, count: 2, proposal: 1)])
        }
        #expect(store.end == 1, "a refused call writes nothing")
        await store.close()
    }

    @Test func manyPersistsCommitTogetherInIssueOrder() async throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try open()
        let view = ConsensusStore(store: store)
        var persists: [(records: [StoreRecord], token: UInt64)] = []
        for token in 1...20 as ClosedRange<UInt64> {
            let records: [StoreRecord] =
                token % 5 == 0
                ? [.metadata(ReplicaMetadata(status: .voting, promised: token))]
                : [.actions([append("t\(token)", at: token)])]
            view.stage(records, token: token)
            persists.append((records, token))
        }
        try await view.commit(persists)
        #expect(view.pendingCount == 0)
        #expect(store.metadata.promised == 20)
        #expect(store.end == 19)
        #expect(view.action(at: 7) == append("t7", at: 7))
        await store.close()
    }
}
