import NIOCore
import ReplogConsensus
import ReplogModel
import ReplogWire
import Testing

@Suite struct CoordinatorTests {
    let r1 = NodeID(1)
    let r2 = NodeID(2)
    let r3 = NodeID(3)

    func value(_ text: String) -> ActionValue { .append(ByteBuffer(string: text)) }

    @Test func anOperationStartsAnElectionWithAnImplicitPromiseToEveryReplica() throws {
        var harness = CoordinatorHarness()
        harness.append(["a"], id: 1)
        let promises = harness.takePromises()
        #expect(Set(promises.map(\.to)) == Set(CoordinatorHarness.replicas))
        #expect(promises.allSatisfy { $0.request.position == nil && $0.request.proposal & 0xFF == 7 })
        #expect(harness.coordinator.phase == .electing)
    }

    @Test func aRejectedElectionBacksOffAndRetriesAboveEveryPromiseSeen() throws {
        var harness = CoordinatorHarness()
        harness.append(["a"], id: 1)
        let taken1 = harness.takePromises().first
        let promise = try #require(taken1)
        harness.respond(
            .promiseResponse(PromiseResponse(result: .reject, proposal: 0x0905, position: 0)),
            from: r1,
            to: promise.id
        )
        #expect(harness.coordinator.phase == .idle)
        let backoff = try #require(harness.delay(.backoff))
        #expect(backoff >= .milliseconds(100) && backoff < .milliseconds(200))
        harness.fire(.backoff)
        let taken2 = harness.takePromises().first
        let retry = try #require(taken2)
        #expect(retry.request.proposal > 0x0905)
        #expect(retry.request.proposal & 0xFF == 7)
        #expect(harness.completions.isEmpty, "the queued append waits for the next term")
    }

    @Test func consecutiveFailuresBackOffLonger() throws {
        var harness = CoordinatorHarness()
        harness.append(["a"], id: 1)
        var delays: [Duration] = []
        for round in 0..<4 {
            let taken3 = harness.takePromises().first
            let promise = try #require(taken3)
            harness.respond(
                .promiseResponse(PromiseResponse(result: .reject, proposal: Proposal(0x1000 + round), position: 0)),
                from: r1,
                to: promise.id
            )
            delays.append(try #require(harness.delay(.backoff)))
            harness.fire(.backoff)
        }
        #expect(delays[3] >= .milliseconds(800), "the fourth failure waits 2^3 times the base")
        #expect(delays[0] < .milliseconds(200))
    }

    @Test func afterWinningItFillsEveryUnlearnedPositionUpToTheHighestEnd() throws {
        var harness = CoordinatorHarness()
        harness.append(["new"], id: 1)
        let taken4 = harness.winElection(ends: [2, 3])
        let proposal = try #require(taken4)
        #expect(harness.coordinator.phase == .filling)
        let promises = harness.takePromises()
        #expect(Set(promises.compactMap(\.request.position)) == [1, 2, 3])
        #expect(promises.allSatisfy { $0.request.proposal == proposal }, "fill uses the elected proposal")
        func id(_ position: Position) -> UInt64 { promises.first { $0.request.position == position }!.id }

        // Position 1 is learned on replica 1: just learn it.
        let learned = Action.learned(value("chosen"), at: 1, proposal: 2)
        harness.respond(
            .promiseResponse(PromiseResponse(result: .accept, proposal: proposal, position: 1, action: learned)),
            from: r1,
            to: id(1)
        )
        // Position 2: two performed values; the one with the higher proposal is written again.
        let older = Action(position: 2, promised: proposal, performed: 3, value: value("older"))
        let newer = Action(position: 2, promised: proposal, performed: 4, value: value("newer"))
        harness.respond(
            .promiseResponse(PromiseResponse(result: .accept, proposal: proposal, position: 2, action: older)),
            from: r1,
            to: id(2)
        )
        harness.respond(
            .promiseResponse(PromiseResponse(result: .accept, proposal: proposal, position: 2, action: newer)),
            from: r2,
            to: id(2)
        )
        // Position 3: nothing anywhere: a NOP.
        harness.respond(
            .promiseResponse(PromiseResponse(result: .accept, proposal: proposal, position: 3)),
            from: r1,
            to: id(3)
        )
        harness.respond(
            .promiseResponse(PromiseResponse(result: .accept, proposal: proposal, position: 3)),
            from: r3,
            to: id(3)
        )
        let sent = harness.takeSent()
        let learnedMessages = sent.filter { $0.envelope.message == .learned(Learned(actions: [learned])) }
        #expect(learnedMessages.count == 3, "a learned action found by fill is broadcast whole")
        let writes = sent.compactMap { item -> (WriteRequest, UInt64)? in
            guard case .writeRequest(let request) = item.envelope.message else { return nil }
            return (request, item.envelope.requestID)
        }
        let rewrite = try #require(writes.first { $0.0.position == 2 })
        #expect(rewrite.0.values == [value("newer")])
        let nop = try #require(writes.first { $0.0.position == 3 })
        #expect(nop.0.values == [.nop(tombstone: false)])
        harness.acknowledge(rewrite.0, id: rewrite.1, from: [r1, r2])
        #expect(harness.coordinator.phase == .filling)
        harness.acknowledge(nop.0, id: nop.1, from: [r1, r3])
        #expect(harness.coordinator.phase == .leading)
        #expect(harness.leadership == [true])
        // The queued append goes after the highest end.
        let taken5 = harness.takeWrites().first
        let append = try #require(taken5)
        #expect(append.request.position == 4)
        #expect(append.request.values == [value("new")])
    }

    @Test func appendsArePipelinedBatchedAndCompletedInPositionOrder() throws {
        var harness = CoordinatorHarness {
            $0.maxBatchEntries = 2
            $0.maxInFlightPartialBatches = 4
        }
        // Operations that arrive while the coordinator is busy are batched.
        harness.append(["a"], id: 1)
        harness.append(["b"], id: 2)
        harness.append(["c", "d"], id: 3)
        harness.append(["e"], id: 4)
        let elected = harness.winElection()
        _ = try #require(elected)
        let writes = harness.takeWrites()
        let batches = Dictionary(grouping: writes, by: \.id).values.map { $0[0] }
            .sorted { $0.request.position < $1.request.position }
        #expect(batches.map(\.request.position) == [1, 3, 5], "three batches in flight at once")
        #expect(batches.map(\.request.values.count) == [2, 2, 1])
        #expect(writes.count == 9, "every batch goes to every replica")
        // Later batches reach a quorum first: nothing completes before the first one.
        harness.acknowledge(batches[2].request, id: batches[2].id, from: [r1, r2])
        harness.acknowledge(batches[1].request, id: batches[1].id, from: [r2, r1])
        #expect(harness.completions.isEmpty)
        harness.acknowledge(batches[0].request, id: batches[0].id, from: [r1, r3])
        #expect(harness.completions.isEmpty, "r3 did not promise: only r1 counts")
        harness.acknowledge(batches[0].request, id: batches[0].id, from: [r2])
        #expect(harness.completions.map(\.0.rawValue) == [1, 2, 3, 4])
        #expect(harness.completions[2].1 == .success(.appended(position: 3, count: 2)))
        #expect(harness.takeSent().isEmpty, "the learned range waits for the next write")
        // With room in the pipeline, a new append is written at once, and tells what was chosen.
        harness.append(["f"], id: 5)
        let next = harness.takeWrites()
        #expect(next.count == 3 && next.first?.request.position == 6)
        #expect(next.allSatisfy { $0.request.chosen?.position == 1 && $0.request.chosen?.count == 5 })
    }

    @Test func aRejectFailsWritesInFlightWithNotLeaderAndReturnsToElecting() throws {
        var harness = CoordinatorHarness()
        harness.append(["a"], id: 1)
        let taken8 = harness.winElection()
        _ = try #require(taken8)
        let taken9 = harness.takeWrites().first
        let write = try #require(taken9)
        harness.respond(
            .writeResponse(
                WriteResponse(result: .reject, proposal: write.request.proposal + 256, position: 1, count: 1)
            ),
            from: r2,
            to: write.id
        )
        #expect(harness.completions.count == 1)
        guard case .failure(let error) = harness.completions[0].1 else {
            Issue.record("expected a failure")
            return
        }
        #expect(error.code == .notLeader)
        #expect(harness.leadership == [true, false])
        #expect(harness.coordinator.phase == .idle)
        harness.append(["b"], id: 2)
        harness.fire(.backoff)
        let taken10 = harness.takePromises().first
        let retry = try #require(taken10)
        #expect(retry.request.proposal > write.request.proposal + 256)
    }

    @Test func aLatePromiseLetsThatReplicasAcceptancesCount() throws {
        var harness = CoordinatorHarness {
            $0.tick = .milliseconds(100)
            $0.writeRetry = .milliseconds(100)
        }
        harness.append(["a"], id: 1)
        let promises = harness.takePromises()
        let election = try #require(promises.first)
        for replica in [r1, r2] {
            let accept = PromiseResponse(result: .accept, proposal: election.request.proposal, position: 0)
            harness.respond(.promiseResponse(accept), from: replica, to: election.id)
        }
        let taken = harness.takeWrites()
        let write = try #require(taken.first)
        // r2 crashed; r3 never got the promise request, so its acceptance alone does not count.
        harness.acknowledge(write.request, id: write.id, from: [r1, r3])
        #expect(harness.completions.isEmpty)
        harness.fire(.tick)
        let resent = harness.takeSent()
        #expect(resent.contains { $0.to == r3 && $0.envelope.message == .promiseRequest(election.request) })
        let accept = PromiseResponse(result: .accept, proposal: election.request.proposal, position: 0)
        harness.respond(.promiseResponse(accept), from: r3, to: election.id)
        harness.acknowledge(write.request, id: write.id, from: [r3])
        #expect(harness.completions.count == 1)
    }

    @Test func anAcceptFromAReplicaThatRestartedSincePromisingDoesNotCount() throws {
        var harness = CoordinatorHarness()
        harness.append(["a"], id: 1)
        let taken11 = harness.winElection()
        _ = try #require(taken11)
        let taken12 = harness.takeWrites().first
        let write = try #require(taken12)
        harness.acknowledge(write.request, id: write.id, from: [r1])
        harness.acknowledge(write.request, id: write.id, from: [r2], session: 2)
        harness.acknowledge(write.request, id: write.id, from: [r3])
        #expect(harness.completions.isEmpty, "r2 promised in session 1, r3 never promised")
        harness.acknowledge(write.request, id: write.id, from: [r2], session: 1)
        #expect(harness.completions.count == 1)
    }

    @Test func aWriteWithoutQuorumIsResentAndFinallyGivesUpLeadership() throws {
        var harness = CoordinatorHarness {
            $0.tick = .milliseconds(100)
            $0.writeRetry = .milliseconds(100)
            $0.writeAttempts = 3
        }
        harness.append(["a"], id: 1)
        let taken13 = harness.winElection()
        _ = try #require(taken13)
        let taken14 = harness.takeWrites().first
        let write = try #require(taken14)
        harness.acknowledge(write.request, id: write.id, from: [r1])
        harness.fire(.tick)
        let resent = harness.takeWrites()
        #expect(Set(resent.map(\.to)) == [r2, r3], "only the silent replicas are asked again")
        harness.fire(.tick)
        #expect(harness.completions.isEmpty)
        harness.fire(.tick)
        #expect(harness.completions.count == 1)
        if case .failure(let error) = harness.completions[0].1 {
            #expect(error.code == .unavailable)
        } else {
            Issue.record("expected a failure")
        }
        #expect(harness.coordinator.phase == .idle)
    }

    @Test func anElectionWithoutAnswersTimesOut() throws {
        var harness = CoordinatorHarness {
            $0.tick = .milliseconds(100)
            $0.electionTimeout = .milliseconds(300)
        }
        harness.append(["a"], id: 1)
        for _ in 0..<3 { harness.fire(.tick) }
        #expect(harness.coordinator.phase == .idle)
        #expect(harness.delay(.backoff) != nil)
    }

    @Test func anOperationThatNeverGetsAPositionFailsWithATimeout() throws {
        var harness = CoordinatorHarness {
            $0.tick = .milliseconds(100)
            $0.operationTimeout = .milliseconds(200)
            $0.electionTimeout = .seconds(10)
        }
        harness.append(["a"], id: 1)
        harness.fire(.tick)
        #expect(harness.completions.isEmpty)
        harness.fire(.tick)
        let completion = try #require(harness.completions.first)
        if case .failure(let error) = completion.1 {
            #expect(error.code == .timeout)
        } else {
            Issue.record("expected a timeout")
        }
    }

    /// Under load a batch short of full waits for the one in flight, gathering what arrives
    /// meanwhile; full batches still pipeline.
    @Test func aPartialBatchWaitsForTheBatchInFlightAndFullOnesDoNot() throws {
        var harness = CoordinatorHarness { $0.maxBatchEntries = 3 }
        harness.append(["a"], id: 1)
        harness.append(["b"], id: 2)
        harness.append(["c", "d"], id: 3)
        harness.append(["e"], id: 4)
        let elected = harness.winElection()
        _ = try #require(elected)
        var batches = Dictionary(grouping: harness.takeWrites(), by: \.id).values.map { $0[0] }
            .sorted { $0.request.position < $1.request.position }
        // [a, b] goes first (nothing in flight); [c, d, e] is full, so it goes along.
        #expect(batches.map(\.request.position) == [1, 3])
        #expect(batches.map(\.request.values.count) == [2, 3])
        harness.append(["f"], id: 5)
        harness.append(["g"], id: 6)
        #expect(harness.takeWrites().isEmpty, "[f, g] is short of full while batches are in flight")
        harness.acknowledge(batches[0].request, id: batches[0].id, from: [r1, r2])
        #expect(harness.takeWrites().isEmpty, "one batch is still in flight")
        harness.acknowledge(batches[1].request, id: batches[1].id, from: [r1, r2])
        batches = Dictionary(grouping: harness.takeWrites(), by: \.id).values.map { $0[0] }
        #expect(batches.map(\.request.position) == [6])
        #expect(batches.map(\.request.values) == [[value("f"), value("g")]], "what waited goes out together")
        #expect(harness.completions.map(\.0.rawValue) == [1, 2, 3, 4])
        // With nothing in flight, a lone append goes out at once.
        harness.acknowledge(batches[0].request, id: batches[0].id, from: [r1, r2])
        harness.append(["h"], id: 7)
        #expect(harness.takeWrites().map(\.request.position).first == 8)
    }

    /// What a write chose rides on the next write when one goes out at once; otherwise it is
    /// broadcast on its own.
    @Test func theNextWriteCarriesWhatTheLastOneChose() throws {
        var harness = CoordinatorHarness()
        harness.append(["a"], id: 1)
        let elected = harness.winElection()
        let proposal = try #require(elected)
        let first = try #require(harness.takeWrites().first)
        #expect(first.request.chosen == nil)
        harness.append(["b"], id: 2)
        #expect(harness.takeWrites().isEmpty)
        harness.acknowledge(first.request, id: first.id, from: [r1, r2])
        let sent = harness.takeSent()
        let writes = sent.compactMap { item -> WriteRequest? in
            if case .writeRequest(let request) = item.envelope.message { return request }
            return nil
        }
        #expect(writes.count == 3)
        #expect(
            writes.allSatisfy {
                $0.position == 2 && $0.chosen == LearnedRange(proposal: proposal, position: 1, count: 1)
            }
        )
        #expect(!sent.contains { if case .learnedRange = $0.envelope.message { true } else { false } })
        harness.acknowledge(writes[0], id: sent[0].envelope.requestID, from: [r1, r2])
        #expect(harness.completions.map(\.0.rawValue) == [1, 2])
        // No write follows: the range waits for one, at most `chosenHold`.
        #expect(harness.takeSent().isEmpty)
        #expect(harness.delay(.chosenHold) == .milliseconds(5))
        harness.fire(.chosenHold)
        let alone = harness.takeSent().compactMap { item -> LearnedRange? in
            if case .learnedRange(let range) = item.envelope.message { return range }
            return nil
        }
        #expect(alone == Array(repeating: LearnedRange(proposal: proposal, position: 2, count: 1), count: 3))
    }

    /// Held ranges join while they are contiguous; a read releases them at once.
    @Test func heldRangesJoinAndAReadReleasesThem() throws {
        var harness = CoordinatorHarness { $0.maxBatchEntries = 1 }
        harness.append(["a"], id: 1)
        harness.append(["b"], id: 2)
        harness.append(["c"], id: 3)
        let elected = harness.winElection()
        let proposal = try #require(elected)
        let batches = Dictionary(grouping: harness.takeWrites(), by: \.id).values.map { $0[0] }
            .sorted { $0.request.position < $1.request.position }
        #expect(batches.count == 3, "full batches pipeline")
        for batch in batches {
            harness.acknowledge(batch.request, id: batch.id, from: [r1, r2])
        }
        #expect(harness.completions.map(\.0.rawValue) == [1, 2, 3])
        #expect(harness.takeSent().isEmpty)
        let released = harness.coordinator.releaseChosen().compactMap { directive -> LearnedRange? in
            if case .send(let envelope, _) = directive, case .learnedRange(let range) = envelope.message {
                return range
            }
            return nil
        }
        #expect(released == Array(repeating: LearnedRange(proposal: proposal, position: 1, count: 3), count: 3))
        #expect(harness.coordinator.releaseChosen().isEmpty)
    }

    @Test func truncationIsWrittenLikeAnAppendAndRefusedBeyondTheEnd() throws {
        var harness = CoordinatorHarness { $0.maxInFlightPartialBatches = 4 }
        harness.append(["a", "b"], id: 1)
        let taken15 = harness.winElection()
        _ = try #require(taken15)
        harness.apply(harness.coordinator.truncate(to: 9, id: OperationID(2)))
        harness.apply(harness.coordinator.truncate(to: 2, id: OperationID(3)))
        let writes = harness.takeWrites()
        let values = Set(writes.flatMap(\.request.values))
        #expect(values.contains(.truncate(to: 2)))
        #expect(!values.contains(.truncate(to: 9)))
        let refused = try #require(harness.completions.first)
        #expect(refused.0 == OperationID(2))
        if case .failure(let error) = refused.1 { #expect(error.code == .invalidRequest) }
        for id in Set(writes.map(\.id)) {
            let write = writes.first { $0.id == id }!
            harness.acknowledge(write.request, id: id, from: [r1, r2])
        }
        #expect(harness.completions.last?.1 == .success(.truncated(position: 3)))
    }

    @Test func emptyAppendsAndBadConfigurationsAreRefused() {
        var harness = CoordinatorHarness()
        harness.apply(harness.coordinator.append([], id: OperationID(1)))
        if case .failure(let error)? = harness.completions.first?.1 {
            #expect(error.code == .invalidRequest)
        } else {
            Issue.record("expected a failure")
        }
        let replicas = [NodeID(1), NodeID(2)]
        #expect(CoordinatorConfiguration(id: NodeID(9), replicas: replicas, quorum: 1, proposerID: 1).problem != nil)
        #expect(CoordinatorConfiguration(id: NodeID(9), replicas: replicas, proposerID: 1).problem == nil)
    }

    @Test func proposalNumbersAreUniquePerProposerAndIncreasing() {
        #expect(ProposalNumbers.next(above: 0, proposer: 7) == 0x107)
        #expect(ProposalNumbers.next(above: 0x107, proposer: 7) == 0x207)
        #expect(ProposalNumbers.next(above: 0x0905, proposer: 7) == 0x0A07)
        #expect(ProposalNumbers.next(above: 0x0905, proposer: 3) == 0x0A03)
        #expect(ProposalNumbers.next(above: 0x0903, proposer: 7) > 0x0903)
    }
}
