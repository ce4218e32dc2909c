import NIOCore
import ReplogConsensus
import ReplogModel
import ReplogTestKit
import ReplogWire
import Testing

@Suite struct ReplicaAcceptorTests {
    @Test func implicitPromiseIsPersistedBeforeTheAcceptIsSent() throws {
        var harness = ReplicaHarness(promised: 3, actions: [performed(1, 2, append("a"), learned: true)])
        harness.receive(.promiseRequest(PromiseRequest(proposal: 5)))
        #expect(harness.sent.isEmpty, "the reply must wait for durability")
        #expect(harness.store.visible.metadata.promised == 5)
        #expect(harness.store.durable.metadata.promised == 3)
        harness.sync()
        let reply = try harness.requireReply()
        #expect(reply == .promiseResponse(PromiseResponse(result: .accept, proposal: 5, position: 1)))
        #expect(harness.store.durable.metadata.promised == 5)
    }

    @Test func implicitPromiseAtOrBelowThePromiseIsRejectedWithTheHigherProposal() throws {
        for proposal: Proposal in [3, 7] {
            var harness = ReplicaHarness(promised: 7)
            harness.receive(.promiseRequest(PromiseRequest(proposal: proposal)))
            let reply = try harness.requireReply()
            #expect(reply == .promiseResponse(PromiseResponse(result: .reject, proposal: 7, position: 0)))
            #expect(harness.store.visible.metadata.promised == 7)
        }
    }

    @Test func aReplicaThatIsNotVotingIgnoresPromisesAndWrites() throws {
        for status in [ReplicaStatus.empty, .starting, .recovering] {
            var harness = ReplicaHarness(status: status)
            _ = harness.takeSent()
            harness.receive(.promiseRequest(PromiseRequest(proposal: 5)))
            #expect(
                harness.takeReply() == .promiseResponse(PromiseResponse(result: .ignored, proposal: 5, position: 0))
            )
            harness.receive(.writeRequest(WriteRequest(proposal: 5, position: 1, values: [append("x")])))
            #expect(
                harness.takeReply()
                    == .writeResponse(WriteResponse(result: .ignored, proposal: 5, position: 1, count: 1))
            )
            #expect(harness.store.visible.action(at: 1) == nil)
        }
    }

    @Test func explicitPromiseAcceptsTheSameProposalAndReturnsThePerformedAction() throws {
        var harness = ReplicaHarness(promised: 5, actions: [performed(4, 3, append("old"))])
        harness.receive(.promiseRequest(PromiseRequest(proposal: 5, position: 4)))
        harness.sync()
        let reply = try harness.requireReply()
        let expected = Action(position: 4, promised: 5, performed: 3, value: append("old"))
        #expect(reply == .promiseResponse(PromiseResponse(result: .accept, proposal: 5, position: 4, action: expected)))
        #expect(harness.store.visible.action(at: 4)?.promised == 5)
    }

    @Test func explicitPromiseOnAnEmptyPositionRecordsThePromise() throws {
        var harness = ReplicaHarness(promised: 2)
        harness.receive(.promiseRequest(PromiseRequest(proposal: 4, position: 9)))
        harness.sync()
        #expect(harness.takeReply() == .promiseResponse(PromiseResponse(result: .accept, proposal: 4, position: 9)))
        #expect(harness.store.visible.action(at: 9) == Action(position: 9, promised: 4))
    }

    @Test func explicitPromiseBelowThePositionsPromiseIsRejected() throws {
        var harness = ReplicaHarness(promised: 2, actions: [Action(position: 3, promised: 8)])
        harness.receive(.promiseRequest(PromiseRequest(proposal: 6, position: 3)))
        #expect(harness.takeReply() == .promiseResponse(PromiseResponse(result: .reject, proposal: 8, position: 3)))
        harness.receive(.promiseRequest(PromiseRequest(proposal: 1, position: 4)))
        #expect(harness.takeReply() == .promiseResponse(PromiseResponse(result: .reject, proposal: 2, position: 4)))
    }

    @Test func explicitPromiseOnALearnedPositionReturnsItWithoutPersisting() throws {
        let learned = performed(2, 3, append("chosen"), learned: true)
        var harness = ReplicaHarness(promised: 9, actions: [learned])
        harness.receive(.promiseRequest(PromiseRequest(proposal: 1, position: 2)))
        #expect(harness.store.pendingCount == 0)
        #expect(
            harness.takeReply()
                == .promiseResponse(PromiseResponse(result: .accept, proposal: 1, position: 2, action: learned))
        )
    }

    @Test func positionsBelowBeginAreAnsweredAsLearnedTombstones() throws {
        var harness = ReplicaHarness(actions: [performed(5, 1, .truncate(to: 4), learned: true)])
        #expect(harness.store.visible.begin == 4)
        harness.receive(.promiseRequest(PromiseRequest(proposal: 2, position: 2)))
        guard case .promiseResponse(let response) = try harness.requireReply() else {
            Issue.record("expected a promise response")
            return
        }
        #expect(response.result == .accept)
        #expect(response.action?.learned == true)
        #expect(response.action?.value == .nop(tombstone: true))
    }

    @Test func writeAtOrAboveThePromiseIsStoredAsPerformed() throws {
        var harness = ReplicaHarness(promised: 4)
        harness.receive(.writeRequest(WriteRequest(proposal: 4, position: 1, values: [append("a"), append("b")])))
        #expect(harness.sent.isEmpty)
        harness.sync()
        #expect(
            harness.takeReply() == .writeResponse(WriteResponse(result: .accept, proposal: 4, position: 1, count: 2))
        )
        #expect(harness.store.durable.action(at: 2) == performed(2, 4, append("b")))
        #expect(harness.store.visible.end == 2)
    }

    @Test func writeBelowThePromiseIsRejectedWithTheHigherProposalAndStoresNothing() throws {
        var harness = ReplicaHarness(promised: 2, actions: [Action(position: 2, promised: 6)])
        harness.receive(.writeRequest(WriteRequest(proposal: 4, position: 1, values: [append("a"), append("b")])))
        #expect(
            harness.takeReply() == .writeResponse(WriteResponse(result: .reject, proposal: 6, position: 1, count: 2))
        )
        #expect(harness.store.visible.action(at: 1) == nil)
        #expect(harness.store.pendingCount == 0)
    }

    @Test func writesToLearnedPositionsAreIgnoredAndTheRestOfTheBatchIsWritten() throws {
        let learned = performed(1, 1, append("chosen"), learned: true)
        var harness = ReplicaHarness(actions: [learned])
        harness.receive(.writeRequest(WriteRequest(proposal: 3, position: 1, values: [append("other")])))
        #expect(
            harness.takeReply() == .writeResponse(WriteResponse(result: .ignored, proposal: 3, position: 1, count: 1))
        )
        #expect(harness.store.visible.action(at: 1) == learned)
        harness.receive(.writeRequest(WriteRequest(proposal: 3, position: 1, values: [append("other"), append("b")])))
        harness.sync()
        #expect(
            harness.takeReply() == .writeResponse(WriteResponse(result: .accept, proposal: 3, position: 1, count: 2))
        )
        #expect(harness.store.visible.action(at: 1) == learned)
        #expect(harness.store.visible.action(at: 2) == performed(2, 3, append("b")))
    }

    @Test func malformedWritesGetATypedError() throws {
        var harness = ReplicaHarness()
        harness.receive(.writeRequest(WriteRequest(proposal: 3, position: 0, values: [append("x")])))
        guard case .error(let error) = try harness.requireReply() else {
            Issue.record("expected an error")
            return
        }
        #expect(error.code == .invalidRequest)
        harness.receive(.writeRequest(WriteRequest(proposal: 3, position: 4, values: [])))
        guard case .error = try harness.requireReply() else {
            Issue.record("expected an error")
            return
        }
        #expect(harness.store.visible.end == 0)
    }

    @Test func learnedRangeMarksOnlyActionsPerformedWithThatProposal() throws {
        var harness = ReplicaHarness(actions: [
            performed(1, 5, append("a")), performed(2, 4, append("b")), Action(position: 3, promised: 5),
        ])
        harness.receive(.learnedRange(LearnedRange(proposal: 5, position: 1, count: 3)))
        #expect(harness.sent.isEmpty, "learned messages have no reply")
        #expect(harness.store.visible.action(at: 1)?.learned == true)
        #expect(harness.store.visible.action(at: 2)?.learned == false)
        #expect(harness.store.visible.action(at: 3)?.learned == false)
        #expect(harness.replica.knownChosen == 3)
    }

    @Test func learnedRangeBecomesOneSmallRecordPerRunNotARewriteOfTheValues() throws {
        var harness = ReplicaHarness(actions: [
            performed(1, 5, append("a")), performed(2, 5, append("b")), performed(3, 4, append("c")),
            performed(4, 5, append("d")), .learned(append("e"), at: 5, proposal: 5), performed(6, 5, append("f")),
        ])
        let records = harness.replica.receive(
            Incoming(.request(.learnedRange(LearnedRange(proposal: 5, position: 1, count: 9)), id: 0), from: NodeID(9)),
            store: harness.store.visible
        ).compactMap { directive -> [StoreRecord]? in
            guard case .persist(let records, _) = directive else { return nil }
            return records
        }
        #expect(
            records == [
                [
                    .learned(first: 1, count: 2, proposal: 5), .learned(first: 4, count: 1, proposal: 5),
                    .learned(first: 6, count: 1, proposal: 5),
                ]
            ]
        )
    }

    @Test func aWriteCarryingAChosenRangeLearnsItWithTheSamePersist() throws {
        var harness = ReplicaHarness(actions: [performed(1, 5, append("a")), performed(2, 5, append("b"))])
        let write = WriteRequest(
            proposal: 5,
            position: 3,
            values: [append("c")],
            chosen: LearnedRange(proposal: 5, position: 1, count: 2)
        )
        var probe = harness.replica
        let persists = probe.receive(
            Incoming(.request(.writeRequest(write), id: 7), from: NodeID(9)),
            store: harness.store.visible
        ).compactMap { directive -> [StoreRecord]? in
            guard case .persist(let records, _) = directive else { return nil }
            return records
        }
        #expect(persists.count == 2)
        #expect(persists.first == [.learned(first: 1, count: 2, proposal: 5)], "the chosen range is handled first")
        #expect(probe.knownChosen == 2)
        harness.receive(.writeRequest(write))
        harness.sync()
        #expect(
            harness.takeReply() == .writeResponse(WriteResponse(result: .accept, proposal: 5, position: 3, count: 1))
        )
        #expect(harness.store.visible.action(at: 2)?.learned == true)
        harness.receive(
            .writeRequest(
                WriteRequest(
                    proposal: 5,
                    position: 4,
                    values: [append("d")],
                    chosen: LearnedRange(proposal: 5, position: 3, count: 1)
                )
            )
        )
        harness.sync()
        #expect(
            harness.takeReply() == .writeResponse(WriteResponse(result: .accept, proposal: 5, position: 4, count: 1))
        )
        #expect(harness.store.visible.action(at: 3)?.learned == true)
        #expect(harness.store.visible.action(at: 4)?.learned == false)
    }

    @Test func learnedActionsAreStoredAndALearnedTruncationMovesBegin() throws {
        var harness = ReplicaHarness(actions: [performed(1, 1, append("a")), performed(2, 1, append("b"))])
        let truncate = Action.learned(.truncate(to: 2), at: 3, proposal: 2)
        harness.receive(.learned(Learned(actions: [Action.learned(append("a"), at: 1, proposal: 1), truncate])))
        #expect(harness.store.visible.begin == 2)
        #expect(harness.store.visible.action(at: 1) == nil)
        #expect(harness.store.visible.action(at: 3) == truncate)
        // A write below begin is ignored as if learned.
        harness.receive(.writeRequest(WriteRequest(proposal: 9, position: 1, values: [append("late")])))
        harness.sync()
        #expect(
            harness.takeReply() == .writeResponse(WriteResponse(result: .ignored, proposal: 9, position: 1, count: 1))
        )
    }

    @Test func inconsistentLearnedActionsAreRefused() {
        var harness = ReplicaHarness()
        let bogus = Action(position: 1, promised: 1, performed: nil, learned: true, value: nil)
        harness.receive(.learned(Learned(actions: [bogus])))
        #expect(harness.store.visible.action(at: 1) == nil)
    }

    @Test func catchupReturnsLearnedActionsTombstonesAndWhereToContinue() throws {
        let actions = [
            performed(3, 1, .truncate(to: 2), learned: true), performed(4, 1, append("x"), learned: true),
            performed(5, 1, append("unlearned")), performed(6, 1, append("yyyy"), learned: true),
            performed(7, 1, append("zzzz"), learned: true),
        ]
        var harness = ReplicaHarness(actions: actions)
        harness.receive(.catchupRequest(CatchupRequest(from: 1, to: 10, maxBytes: 6)))
        guard case .catchupResponse(let response) = try harness.requireReply() else {
            Issue.record("expected a catch-up response")
            return
        }
        #expect(response.begin == 2)
        #expect(response.end == 7)
        #expect(response.actions.map(\.position) == [1, 3, 4, 6])
        #expect(response.actions[0].value == .nop(tombstone: true))
        #expect(response.next == 7, "the byte budget stops before position 7")
        harness.receive(.catchupRequest(CatchupRequest(from: 7, to: 10, maxBytes: 6)))
        guard case .catchupResponse(let rest) = try harness.requireReply() else { return }
        #expect(rest.actions.map(\.position) == [7])
        #expect(rest.next == 11)
    }

    @Test func recoverRequestsAreAnsweredWithStatusAndRange() throws {
        var voting = ReplicaHarness(actions: [performed(4, 1, append("a"), learned: true)])
        voting.receive(.recoverRequest(RecoverRequest()))
        #expect(voting.takeReply() == .recoverResponse(RecoverResponse(status: .voting, range: 0...4)))
        var empty = ReplicaHarness(status: .empty)
        _ = empty.takeSent()
        empty.receive(.recoverRequest(RecoverRequest()))
        #expect(empty.takeReply() == .recoverResponse(RecoverResponse(status: .empty, range: nil)))
    }

    @Test func repliesWaitForEveryEarlierPersistAndACrashLosesThem() throws {
        var harness = ReplicaHarness()
        harness.receive(.promiseRequest(PromiseRequest(proposal: 5)), id: 1)
        // A reject needs no persist, but must not overtake the accept still waiting for the disk.
        harness.receive(.promiseRequest(PromiseRequest(proposal: 4)), id: 2)
        #expect(harness.sent.isEmpty)
        harness.store.crash(keeping: 0)
        #expect(harness.store.visible.metadata.promised == 0, "the promise was never durable")
        var restarted = Replica(configuration: harness.replica.configuration, seed: 1)
        #expect(restarted.start(store: harness.store.visible).isEmpty)
        #expect(restarted.metadata.promised == 0)
    }

    @Test func confirmationsReleaseRepliesInOrder() throws {
        var harness = ReplicaHarness()
        harness.receive(.promiseRequest(PromiseRequest(proposal: 5)), id: 1)
        harness.receive(.promiseRequest(PromiseRequest(proposal: 4)), id: 2)
        harness.sync()
        let sent = harness.takeSent()
        #expect(sent.map(\.envelope.requestID) == [1, 2])
    }

    @Test func unsafeConfigurationsAreExplained() {
        let ids = [NodeID(1), NodeID(2), NodeID(3), NodeID(4)]
        let small = ReplicaConfiguration(id: ids[0], replicas: ids, quorum: 2, proposerID: 1)
        #expect(small.problem?.contains("not a majority") == true)
        let outsider = ReplicaConfiguration(id: NodeID(9), replicas: ids, proposerID: 1)
        #expect(outsider.problem != nil)
        let zero = ReplicaConfiguration(id: ids[0], replicas: ids, proposerID: 0)
        #expect(zero.problem?.contains("reserved") == true)
        #expect(ReplicaConfiguration(id: ids[0], replicas: ids, proposerID: 1).problem == nil)
    }
}
