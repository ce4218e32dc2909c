import NIOCore
import ReplogConsensus
import ReplogModel
import ReplogWire
import Testing

/// The core's side of several coordinators: elections only when asked, the learned position heard
/// from the leader, the positions given to operations, and where filled values came from.
@Suite struct CoordinatorFailoverTests {
    let r1 = NodeID(1)
    let r2 = NodeID(2)
    let r3 = NodeID(3)

    func value(_ text: String) -> ActionValue { .append(ByteBuffer(string: text)) }

    func shared() -> CoordinatorHarness {
        CoordinatorHarness { $0.electsOnDemand = false }
    }

    @Test func withoutElectionsOnDemandAnOperationWhileIdleFailsWithNotLeader() throws {
        var harness = shared()
        harness.append(["a"], id: 1)
        #expect(harness.takePromises().isEmpty, "an operation must not start an election")
        #expect(harness.coordinator.phase == .idle)
        guard case .failure(let error)? = harness.completions.first?.1 else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.code == .notLeader)
    }

    @Test func withoutElectionsOnDemandALostLeadershipIsNotContested() throws {
        var harness = CoordinatorHarness {
            $0.electsOnDemand = false
            $0.maxInFlightBatches = 1
        }
        harness.apply(harness.coordinator.elect())
        let won = harness.winElection()
        _ = try #require(won)
        harness.append(["a"], id: 1)
        harness.append(["b"], id: 2)  // waits: one batch in flight at most
        let sent = harness.takeWrites().first
        let write = try #require(sent)
        harness.respond(
            .writeResponse(
                WriteResponse(result: .reject, proposal: write.request.proposal + 256, position: 1, count: 1)
            ),
            from: r2,
            to: write.id
        )
        #expect(harness.completions.count == 2, "the waiting operation fails too, so its client can move on")
        #expect(harness.completions.allSatisfy { (try? $0.1.get()) == nil })
        harness.fire(.backoff)
        #expect(harness.takePromises().isEmpty, "no election until the shell asks for one")
        #expect(harness.coordinator.highestSeenProposal == write.request.proposal + 256)
    }

    @Test func positionsLearnedElsewhereAreNotFilledAgain() throws {
        var harness = shared()
        harness.coordinator.noteLearned(through: 5)
        #expect(harness.coordinator.learnedThrough == 5)
        harness.apply(harness.coordinator.elect())
        let won = harness.winElection(ends: [7, 7])
        _ = try #require(won)
        let fills = harness.takePromises()
        #expect(Set(fills.compactMap(\.request.position)) == [6, 7])
        // While electing or leading the coordinator's own view rules.
        harness.coordinator.noteLearned(through: 100)
        #expect(harness.coordinator.learnedThrough == 5)
    }

    @Test func theFillRecordsWhichProposalWroteEachValueItKept() throws {
        var harness = shared()
        harness.apply(harness.coordinator.elect())
        let won = harness.winElection(ends: [3, 3])
        let proposal = try #require(won)
        let promises = harness.takePromises()
        func id(_ position: Position) -> UInt64 { promises.first { $0.request.position == position }!.id }
        let learned = Action.learned(value("one"), at: 1, proposal: 0x0165)
        let performed = Action(position: 2, promised: 0x0265, performed: 0x0265, value: value("two"))
        harness.respond(
            .promiseResponse(PromiseResponse(result: .accept, proposal: proposal, position: 1, action: learned)),
            from: r1,
            to: id(1)
        )
        for replica in [r1, r2] {
            harness.respond(
                .promiseResponse(
                    PromiseResponse(
                        result: .accept,
                        proposal: proposal,
                        position: 2,
                        action: replica == r1 ? performed : nil
                    )
                ),
                from: replica,
                to: id(2)
            )
            harness.respond(
                .promiseResponse(PromiseResponse(result: .accept, proposal: proposal, position: 3)),
                from: replica,
                to: id(3)
            )
        }
        #expect(harness.coordinator.fillOrigins == [1: 0x0165, 2: 0x0265], "position 3 got a NOP: no origin")
    }

    @Test func positionsAreAnnouncedBeforeTheirWrites() throws {
        var harness = shared()
        harness.apply(harness.coordinator.elect())
        let won = harness.winElection()
        let proposal = try #require(won)
        harness.apply(
            harness.coordinator.append([ByteBuffer(string: "a"), ByteBuffer(string: "b")], id: OperationID(7))
        )
        #expect(harness.assignments.count == 1)
        #expect(harness.assignments.first?.proposal == proposal)
        #expect(
            harness.assignments.first?.assignments == [Assignment(operation: OperationID(7), position: 1, count: 2)]
        )
        // The next batch goes out once the first is acknowledged; its announcement comes first too.
        let first = try #require(harness.takeWrites().first)
        harness.acknowledge(first.request, id: first.id, from: [r1, r2])
        var core = harness.coordinator
        let directives = core.append([ByteBuffer(string: "c")], id: OperationID(8))
        let order = directives.map { directive -> String in
            switch directive {
            case .assigned: return "assigned"
            case .send: return "send"
            default: return "other"
            }
        }
        #expect(order.first == "assigned" && order.dropFirst().allSatisfy { $0 == "send" })
    }
}
