import NIOCore
import ReplogConsensus
import ReplogModel
import ReplogTestKit
import ReplogWire
import Testing

@Suite struct RecoveryTests {
    let peer2 = NodeID(2)
    let peer3 = NodeID(3)

    /// The request id of the recover broadcast just sent, checking it went to both peers.
    func recoverBroadcast(_ harness: inout ReplicaHarness) -> UInt64? {
        let sent = harness.takeSent().filter { $0.envelope.message == .recoverRequest(RecoverRequest()) }
        guard Set(sent.map(\.to)) == [peer2, peer3] else { return nil }
        return sent.first?.envelope.requestID
    }

    /// Answers the fence (an implicit promise to the VOTING peers) with ACCEPTs reporting `end`.
    func passFence(_ harness: inout ReplicaHarness, end: Position) throws -> Proposal {
        let promises = harness.takeSent().compactMap { sent -> (PromiseRequest, NodeID, UInt64)? in
            guard case .promiseRequest(let request) = sent.envelope.message, request.position == nil else { return nil }
            return (request, sent.to, sent.envelope.requestID)
        }
        let first = try #require(promises.first)
        #expect(Set(promises.map(\.1)) == [peer2, peer3])
        for (request, peer, id) in promises {
            let accept = PromiseResponse(result: .accept, proposal: request.proposal, position: end)
            harness.receive(.promiseResponse(accept), from: peer, id: id, response: true)
        }
        return first.0.proposal
    }

    @Test func aWipedReplicaFencesOlderProposalsBeforeCatchingUp() throws {
        var harness = ReplicaHarness(status: .empty) { $0.catchupBatch = 100 }
        let id = try #require(recoverBroadcast(&harness))
        for peer in [peer2, peer3] {
            let response = RecoverResponse(status: .voting, range: 0...3)
            harness.receive(.recoverResponse(response), from: peer, id: id, response: true)
        }
        let fence = harness.takeSent()
        let first = try #require(fence.first)
        guard case .promiseRequest(let request) = first.envelope.message else {
            Issue.record("expected the fence's implicit promise")
            return
        }
        #expect(request.position == nil && request.proposal & 0xFF == 1)
        // A higher promise: back off and fence again above it.
        let reject = PromiseResponse(result: .reject, proposal: 0x4405, position: 3)
        harness.receive(.promiseResponse(reject), from: peer2, id: first.envelope.requestID, response: true)
        #expect(harness.delay(.fence).map { $0 <= .milliseconds(200) } == true)
        harness.fire(.fence)
        // The fence quorum reports end 6, beyond the ranges of the recover round.
        let proposal = try passFence(&harness, end: 6)
        #expect(proposal > 0x4405)
        #expect(harness.store.visible.metadata.promised == proposal)
        let catchup = harness.takeSent().compactMap { sent -> CatchupRequest? in
            guard case .catchupRequest(let request) = sent.envelope.message else { return nil }
            return request
        }
        #expect(catchup.first?.from == 1)
        #expect(catchup.first?.to == 6)
    }

    @Test func anUninitializedClusterIsDiagnosedAndRetried() throws {
        var harness = ReplicaHarness(status: .empty)
        let id = try #require(recoverBroadcast(&harness))
        harness.receive(.recoverResponse(RecoverResponse(status: .empty)), from: peer2, id: id, response: true)
        #expect(harness.diagnoses.isEmpty, "the third replica may still answer")
        harness.fire(.recovery)
        #expect(
            harness.diagnoses == [
                "2 of 3 replicas are EMPTY: run `replog initialize` on every replica of a new cluster"
            ]
        )
        let retry = try #require(harness.delay(.recovery))
        #expect(retry >= .milliseconds(500) && retry <= .seconds(1))
        harness.fire(.recovery)
        #expect(recoverBroadcast(&harness) != nil, "a new round starts after the jittered delay")
        #expect(harness.replica.status == .empty)
    }

    @Test func tooFewVotingReplicasAreDiagnosed() throws {
        var harness = ReplicaHarness(status: .empty)
        let id = try #require(recoverBroadcast(&harness))
        harness.receive(
            .recoverResponse(RecoverResponse(status: .voting, range: 0...5)),
            from: peer2,
            id: id,
            response: true
        )
        harness.fire(.recovery)
        #expect(harness.diagnoses.count == 1)
        #expect(harness.diagnoses.first?.hasPrefix("only 1 VOTING replica reachable, need 2") == true)
        #expect(harness.replica.status == .empty)
    }

    @Test func aQuorumOfVotingReplicasLetsItCatchUpInBatchesFromSeveralPeersAndVote() throws {
        var harness = ReplicaHarness(status: .empty) { $0.catchupBatch = 2 }
        let id = try #require(recoverBroadcast(&harness))
        harness.receive(
            .recoverResponse(RecoverResponse(status: .voting, range: 0...3)),
            from: peer2,
            id: id,
            response: true
        )
        harness.receive(
            .recoverResponse(RecoverResponse(status: .voting, range: 0...4)),
            from: peer3,
            id: id,
            response: true
        )
        #expect(harness.replica.status == .recovering)
        #expect(harness.statuses == [.recovering])
        _ = try passFence(&harness, end: 4)
        let requests = harness.takeSent().compactMap { sent -> (CatchupRequest, NodeID, UInt64)? in
            guard case .catchupRequest(let request) = sent.envelope.message else { return nil }
            return (request, sent.to, sent.envelope.requestID)
        }
        #expect(requests.map(\.0.from) == [1, 3])
        #expect(requests.map(\.0.to) == [2, 4])
        #expect(Set(requests.map(\.1)) == [peer2, peer3], "batches are spread over the VOTING peers")
        for (request, peer, requestID) in requests {
            let actions = (request.from...request.to).map { Action.learned(append("v\($0)"), at: $0, proposal: 1) }
            let response = CatchupResponse(begin: 0, end: 4, next: request.to + 1, actions: actions)
            harness.receive(.catchupResponse(response), from: peer, id: requestID, response: true)
        }
        #expect(harness.replica.status == .voting)
        #expect(harness.statuses == [.recovering, .voting])
        for position: Position in 1...4 {
            #expect(harness.store.visible.action(at: position)?.value == append("v\(position)"))
        }
        // VOTING is persisted after the caught-up actions: a crash cannot leave a voter without them.
        harness.sync()
        #expect(harness.store.durable.metadata.status == .voting)
    }

    @Test func positionsNobodyLearnedAreFilledWithThePerformedValue() throws {
        var harness = ReplicaHarness(status: .empty) { $0.catchupPassesBeforeFill = 1 }
        let id = try #require(recoverBroadcast(&harness))
        harness.receive(
            .recoverResponse(RecoverResponse(status: .voting, range: 0...2)),
            from: peer2,
            id: id,
            response: true
        )
        harness.receive(
            .recoverResponse(RecoverResponse(status: .voting, range: 0...1)),
            from: peer3,
            id: id,
            response: true
        )
        _ = try passFence(&harness, end: 2)
        let catchup = harness.takeSent().first { if case .catchupRequest = $0.envelope.message { true } else { false } }
        let request = try #require(catchup)
        let response = CatchupResponse(
            begin: 0,
            end: 2,
            next: 3,
            actions: [Action.learned(append("one"), at: 1, proposal: 1)]
        )
        harness.receive(.catchupResponse(response), from: request.to, id: request.envelope.requestID, response: true)
        // Position 2 is learned nowhere: explicit promise to both peers.
        let promises = harness.takeSent().compactMap { sent -> (PromiseRequest, NodeID, UInt64)? in
            guard case .promiseRequest(let promise) = sent.envelope.message else { return nil }
            return (promise, sent.to, sent.envelope.requestID)
        }
        #expect(promises.count == 2)
        let promise = try #require(promises.first)
        #expect(promise.0.position == 2)
        #expect(promise.0.proposal & 0xFF == 1, "the replica's proposer id is in the low byte")
        let seen = Action(position: 2, promised: promise.0.proposal, performed: 5, value: append("maybe chosen"))
        harness.receive(
            .promiseResponse(PromiseResponse(result: .accept, proposal: promise.0.proposal, position: 2, action: seen)),
            from: peer2,
            id: promise.2,
            response: true
        )
        harness.receive(
            .promiseResponse(PromiseResponse(result: .accept, proposal: promise.0.proposal, position: 2)),
            from: peer3,
            id: promise.2,
            response: true
        )
        let writes = harness.takeSent().compactMap { sent -> (WriteRequest, UInt64)? in
            guard case .writeRequest(let write) = sent.envelope.message else { return nil }
            return (write, sent.envelope.requestID)
        }
        #expect(writes.count == 2)
        let write = try #require(writes.first)
        #expect(write.0.values == [append("maybe chosen")])
        for peer in [peer2, peer3] {
            harness.receive(
                .writeResponse(WriteResponse(result: .accept, proposal: write.0.proposal, position: 2, count: 1)),
                from: peer,
                id: write.1,
                response: true
            )
        }
        let learned = harness.takeSent().filter { if case .learned = $0.envelope.message { true } else { false } }
        #expect(learned.count == 2)
        #expect(harness.store.visible.action(at: 2)?.learned == true)
        #expect(harness.store.visible.action(at: 2)?.value == append("maybe chosen"))
        #expect(harness.replica.status == .voting)
    }

    @Test func aRejectedFillBacksOffAndRetriesAboveTheHigherProposal() throws {
        var harness = ReplicaHarness(status: .empty) { $0.catchupPassesBeforeFill = 1 }
        let id = try #require(recoverBroadcast(&harness))
        for peer in [peer2, peer3] {
            harness.receive(
                .recoverResponse(RecoverResponse(status: .voting, range: 0...1)),
                from: peer,
                id: id,
                response: true
            )
        }
        _ = try passFence(&harness, end: 1)
        let catchup = try #require(harness.takeSent().first)
        harness.receive(
            .catchupResponse(CatchupResponse(begin: 0, end: 1, next: 2, actions: [])),
            from: catchup.to,
            id: catchup.envelope.requestID,
            response: true
        )
        let promise = try #require(harness.takeSent().first)
        harness.receive(
            .promiseResponse(PromiseResponse(result: .reject, proposal: 0x0703, position: 1)),
            from: peer2,
            id: promise.envelope.requestID,
            response: true
        )
        let backoff = try #require(harness.delay(.fill))
        #expect(backoff >= .milliseconds(100) && backoff <= .milliseconds(200))
        harness.fire(.fill)
        let retry = harness.takeSent().compactMap { sent -> Proposal? in
            guard case .promiseRequest(let request) = sent.envelope.message else { return nil }
            return request.proposal
        }
        #expect(retry.count == 2)
        #expect(retry.allSatisfy { $0 > 0x0703 && $0 & 0xFF == 1 })
    }

    @Test func aBrandNewClusterInitializesItselfThroughStarting() throws {
        var harness = ReplicaHarness(status: .empty, autoInitialize: true)
        var id = try #require(recoverBroadcast(&harness))
        harness.receive(.recoverResponse(RecoverResponse(status: .empty)), from: peer2, id: id, response: true)
        #expect(harness.replica.status == .empty, "auto-initialize needs every replica")
        harness.receive(.recoverResponse(RecoverResponse(status: .starting)), from: peer3, id: id, response: true)
        #expect(harness.replica.status == .starting)
        id = try #require(recoverBroadcast(&harness))
        harness.receive(.recoverResponse(RecoverResponse(status: .starting)), from: peer2, id: id, response: true)
        harness.receive(
            .recoverResponse(RecoverResponse(status: .voting, range: 0...0)),
            from: peer3,
            id: id,
            response: true
        )
        #expect(harness.replica.status == .voting)
        #expect(harness.statuses == [.starting, .voting])
    }

    @Test func autoInitializeRefusesWhenAnotherReplicaHoldsData() throws {
        var harness = ReplicaHarness(status: .empty, autoInitialize: true)
        let id = try #require(recoverBroadcast(&harness))
        harness.receive(
            .recoverResponse(RecoverResponse(status: .voting, range: 0...9)),
            from: peer2,
            id: id,
            response: true
        )
        harness.receive(.recoverResponse(RecoverResponse(status: .empty)), from: peer3, id: id, response: true)
        #expect(harness.replica.status == .empty)
        #expect(harness.diagnoses.first?.hasPrefix("only 1 VOTING replica reachable, need 2") == true)
    }

    @Test func aVotingReplicaFetchesChosenPositionsItMissed() throws {
        var harness = ReplicaHarness(actions: [performed(1, 1, append("a"), learned: true)])
        harness.receive(.learnedRange(LearnedRange(proposal: 1, position: 2, count: 2)))
        #expect(harness.replica.knownChosen == 3)
        harness.fire(.gap)
        let requests = harness.takeSent().compactMap { sent -> CatchupRequest? in
            guard case .catchupRequest(let request) = sent.envelope.message else { return nil }
            return request
        }
        #expect(requests.first?.from == 2)
        #expect(requests.first?.to == 3)
    }

    @Test func aVotingReplicaBehindATruncationFetchesTheTruncationAndMovesBegin() throws {
        var harness = ReplicaHarness(actions: [performed(1, 1, append("a"), learned: true)]) {
            $0.catchupBatch = 100
        }
        harness.receive(.learnedRange(LearnedRange(proposal: 1, position: 9, count: 1)))
        harness.fire(.gap)
        let request = try #require(harness.takeSent().first)
        guard case .catchupRequest(let asked) = request.envelope.message else {
            Issue.record("expected a catch-up request")
            return
        }
        #expect(asked.from == 2 && asked.to == 9)
        // The peer truncated below 5: positions 2...4 come back as tombstones, then its log.
        var actions = (2...4).map {
            Action(position: $0, promised: 0, performed: 0, learned: true, value: .nop(tombstone: true))
        }
        actions += (5...8).map { Action.learned(append("v\($0)"), at: $0, proposal: 1) }
        actions.append(Action.learned(.truncate(to: 5), at: 9, proposal: 1))
        let response = CatchupResponse(begin: 5, end: 9, next: 10, actions: actions)
        harness.receive(.catchupResponse(response), from: request.to, id: request.envelope.requestID, response: true)
        #expect(harness.store.visible.begin == 5)
        harness.receive(.ping(Ping(nonce: 1)))
        #expect(harness.replica.learnedThrough == 9)
    }
}
