import NIOCore

/// The requests a replica has yet to answer, in arrival order, each with the instant after which
/// it gets no answer (the requester's own timeout will have fired by then).
///
/// Every request waits the same time, so arrival order is deadline order and a FIFO queue is a
/// complete timer: one sleeper serves all requests, instead of one sleeping task per request,
/// which at tens of thousands of writes a second kept hundreds of thousands of tasks alive.
/// Answered requests are dropped from the head as soon as they reach it.
struct AnswerDeadlines<Instant: InstantProtocol> {
    private var queue = CircularBuffer<(id: UInt64, deadline: Instant)>()

    /// Requests still queued (answered ones not yet dropped count too).
    var count: Int { queue.count }

    mutating func add(_ id: UInt64, deadline: Instant) {
        queue.append((id, deadline))
    }

    /// Drops answered requests from the head; returns the next deadline of a waiting one.
    mutating func nextDeadline(isWaiting: (UInt64) -> Bool) -> Instant? {
        while let head = queue.first, !isWaiting(head.id) { queue.removeFirst() }
        return queue.first?.deadline
    }

    /// Removes and returns the waiting requests whose deadline is at or before `now`.
    mutating func expired(at now: Instant, isWaiting: (UInt64) -> Bool) -> [UInt64] {
        var ids: [UInt64] = []
        while let head = queue.first, !isWaiting(head.id) || head.deadline <= now {
            queue.removeFirst()
            if isWaiting(head.id) { ids.append(head.id) }
        }
        return ids
    }
}
