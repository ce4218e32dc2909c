import NIOCore
import ReplogConsensus
import ReplogModel
import ReplogTestKit
import Testing

@Suite struct SimulatorKitTests {
    @Test func theSameSeedReplaysTheSameRun() {
        var options = SimulationOptions(seed: 77)
        options.trace = true
        let first = Simulator.run(options)
        let second = Simulator.run(options)
        #expect(first.trace == second.trace)
        #expect(first.events == second.events)
        #expect(first.trace.count > 100)
        let other = Simulator.run(SimulationOptions(seed: 78))
        #expect(other.events != first.events || other.options != first.options)
    }

    @Test func aFailingRunNamesItsReplayCommand() {
        let result = Simulator.run(SimulationOptions(seed: 5))
        #expect(result.replayCommand == "REPLOG_SIM_SEED=5 swift test --filter Simulation")
    }

    @Test func theCheckerCatchesDisagreementAndLostAcknowledgements() {
        var checker = InvariantChecker()
        let a = ActionValue.append(ByteBuffer(string: "a"))
        let b = ActionValue.append(ByteBuffer(string: "b"))
        checker.replicaLearned("n1", .learned(a, at: 1, proposal: 1))
        #expect(checker.violations.isEmpty)
        checker.replicaLearned("n2", .learned(a, at: 1, proposal: 2))
        #expect(checker.violations.isEmpty, "the same value with another proposal agrees")
        checker.replicaLearned("n2", .learned(b, at: 1, proposal: 3))
        #expect(checker.violations.count == 1)

        var acknowledged = InvariantChecker()
        acknowledged.appendAcknowledged(a, at: 4)
        acknowledged.replicaLearned("n1", .learned(b, at: 4, proposal: 1))
        #expect(acknowledged.violations.count == 1)

        var final = InvariantChecker()
        final.appendAcknowledged(a, at: 2)
        final.finalLog("n1", image: LogImage())
        #expect(final.violations.count == 1, "an acknowledged append missing at the end is reported")

        var truncation = InvariantChecker()
        truncation.truncateRequested(5)
        truncation.replicaBegin("n1", 5)
        #expect(truncation.violations.isEmpty)
        truncation.replicaBegin("n1", 6)
        #expect(truncation.violations.count == 1)
    }

    @Test func theStoreModelLosesWhatWasNotSynced() {
        var store = MemoryStore(metadata: ReplicaMetadata(status: .voting))
        let a = Action.learned(.append(ByteBuffer(string: "a")), at: 1, proposal: 1)
        let b = Action.learned(.append(ByteBuffer(string: "b")), at: 2, proposal: 1)
        store.persist([.actions([a])], token: PersistToken(1))
        #expect(store.sync() == PersistToken(1))
        store.persist([.actions([b])], token: PersistToken(2))
        store.persist([.metadata(ReplicaMetadata(status: .voting, promised: 9))], token: PersistToken(3))
        #expect(store.visible.action(at: 2) == b, "reads see a persist at once")
        store.crash(keeping: 1)
        #expect(store.visible.action(at: 1) == a)
        #expect(store.visible.action(at: 2) == b, "a torn write kept the first unsynced batch")
        #expect(store.visible.metadata.promised == 0, "the second unsynced batch is lost")
        store.wipe()
        #expect(store.visible.metadata.status == .empty)
        #expect(store.visible.end == 0)
    }

    @Test func aLearnedTruncationRemovesOnlyPositionsBelowItsTarget() {
        var image = LogImage()
        let values = (1...5).map { Action.learned(.append(ByteBuffer(string: "\($0)")), at: $0, proposal: 1) }
        image.apply([.actions(values)])
        image.apply([.actions([Action(position: 6, promised: 1, performed: 1, value: .truncate(to: 4))])])
        #expect(image.begin == 0, "an unlearned truncation removes nothing")
        image.apply([.actions([Action.learned(.truncate(to: 4), at: 6, proposal: 1)])])
        #expect(image.begin == 4)
        #expect(image.action(at: 3) == nil)
        #expect(image.action(at: 4) == values[3])
        #expect(image.end == 6)
    }
}

/// Protocol properties measured in simulated round trips (deterministic, not timed).
@Suite struct RoundTripTests {
    @Test func pipelinedBatchedAppendsNeedFarFewerRoundTripsThanOneAtATime() {
        var serial = VirtualCluster(replicaCount: 3) {
            $0.maxInFlightBatches = 1
            $0.maxBatchEntries = 1
        }
        let one = serial.appendLoop(count: 200, size: 10, outstanding: 32)
        var pipelined = VirtualCluster(replicaCount: 3) { $0.maxInFlightPartialBatches = 4 }
        let many = pipelined.appendLoop(count: 200, size: 10, outstanding: 32)
        var adaptive = VirtualCluster(replicaCount: 3)
        let gathered = adaptive.appendLoop(count: 200, size: 10, outstanding: 32)
        #expect(one.failed == 0 && many.failed == 0 && gathered.failed == 0)
        // One at a time: a write round trip (500 µs) plus a sync (100 µs) per append.
        #expect(one.microseconds >= 200 * 600)
        #expect(many.microseconds * 20 < one.microseconds)
        // The default sends one partial batch at a time: every round trip carries what arrived
        // during the last, far fewer messages for about twice the simulated time here.
        #expect(gathered.microseconds * 10 < one.microseconds)
    }

    @Test func aWipedReplicaRecoversInBatchesFromSeveralPeers() throws {
        var single = VirtualCluster(replicaCount: 3, learned: 300)
        single.wipe(0) {
            $0.catchupBatch = 1
            $0.catchupWindowPerPeer = 1
        }
        let slow = single.run(limitMicroseconds: 60_000_000) { $0.status(0) == .voting }
        var batched = VirtualCluster(replicaCount: 3, learned: 300)
        batched.wipe(0) { _ in }
        let fast = batched.run(limitMicroseconds: 60_000_000) { $0.status(0) == .voting }
        let slowTime = try #require(slow as Int64?, "one position at a time still finishes")
        let fastTime = try #require(fast as Int64?)
        #expect(fastTime * 20 < slowTime)
    }
}
