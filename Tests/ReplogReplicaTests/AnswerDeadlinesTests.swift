import Testing

@testable import ReplogReplica

@Suite struct AnswerDeadlinesTests {
    /// Instants of a test clock: plain numbers.
    struct Tick: InstantProtocol {
        var value: Int
        func advanced(by duration: Duration) -> Tick { Tick(value: value + Int(duration.components.seconds)) }
        func duration(to other: Tick) -> Duration { .seconds(other.value - value) }
        static func < (a: Tick, b: Tick) -> Bool { a.value < b.value }
    }

    @Test func expiresOnlyWaitingRequestsWhoseDeadlinePassed() {
        var deadlines = AnswerDeadlines<Tick>()
        var waiting: Set<UInt64> = [1, 2, 3, 4]
        for id in UInt64(1)...4 { deadlines.add(id, deadline: Tick(value: Int(id) * 10)) }
        waiting.remove(2)  // answered in time
        #expect(deadlines.expired(at: Tick(value: 25)) { waiting.contains($0) } == [1])
        #expect(deadlines.nextDeadline { waiting.contains($0) } == Tick(value: 30))
        #expect(deadlines.expired(at: Tick(value: 29)) { waiting.contains($0) } == [])
        #expect(deadlines.expired(at: Tick(value: 40)) { waiting.contains($0) } == [3, 4])
        #expect(deadlines.count == 0)
    }

    @Test func answeredRequestsLeaveTheHeadSoTheQueueStaysAsLongAsTheBacklog() {
        var deadlines = AnswerDeadlines<Tick>()
        var waiting: Set<UInt64> = []
        for id in UInt64(1)...10_000 {
            waiting.insert(id)
            _ = deadlines.nextDeadline { waiting.contains($0) }
            deadlines.add(id, deadline: Tick(value: Int(id)))
            if id > 2 { waiting.remove(id - 2) }  // answers arrive two requests behind
        }
        #expect(deadlines.count <= 3)
        #expect(deadlines.nextDeadline { waiting.contains($0) } == Tick(value: 9_999))
    }

    @Test func anEmptyQueueHasNoDeadline() {
        var deadlines = AnswerDeadlines<Tick>()
        #expect(deadlines.nextDeadline { _ in true } == nil)
        #expect(deadlines.expired(at: Tick(value: 100)) { _ in true } == [])
    }
}
