import ReplogNet
import Testing

/// The nodes' timers: actions run on their owner after the delay, are forgotten once done, and
/// never run after `cancelAll`.
@Suite struct NodeTimersTests {
    actor Owner {
        var fired: [Int] = []
        func fire(_ value: Int) { fired.append(value) }
    }

    func waitFor(_ condition: () async -> Bool) async throws {
        for _ in 0..<500 {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    @Test func actionsRunAfterTheirDelayAndAreForgotten() async throws {
        let timers = NodeTimers()
        let owner = Owner()
        timers.schedule(after: .milliseconds(30), on: owner) { await $0.fire(2) }
        timers.schedule(after: .zero, on: owner) { await $0.fire(1) }
        try await waitFor { await owner.fired.count == 2 && timers.pending == 0 }
        #expect(await owner.fired == [1, 2])
        #expect(timers.pending == 0, "finished timers are not kept")
    }

    @Test func cancelAllStopsPendingTimersAndRefusesNewOnes() async throws {
        let timers = NodeTimers()
        let owner = Owner()
        timers.schedule(after: .milliseconds(50), on: owner) { await $0.fire(1) }
        timers.cancelAll()
        timers.schedule(after: .zero, on: owner) { await $0.fire(2) }
        #expect(timers.pending == 0)
        try await Task.sleep(for: .milliseconds(150))
        #expect(await owner.fired.isEmpty)
    }

    @Test func deadlinesExpireInOrderAndOnlyOnce() {
        var queue = DeadlineQueue<Int>()
        let start = ContinuousClock.now
        for index in 0..<3000 { queue.add(index, at: start + .milliseconds(index)) }
        #expect(queue.earliest == start)
        #expect(queue.expired(at: start - .milliseconds(1)).isEmpty)
        #expect(queue.expired(at: start + .milliseconds(1999)) == Array(0..<2000))
        #expect(queue.count == 1000)
        #expect(queue.earliest == start + .milliseconds(2000))
        #expect(queue.expired(at: start + .seconds(10)) == Array(2000..<3000))
        #expect(queue.earliest == nil)
    }
}
