import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// One-shot timers for a node's actor (a replica or coordinator shell): each runs an action on
/// the actor after a delay unless ``cancelAll()`` came first. Finished timers are forgotten, so a
/// long-running process does not accumulate them.
///
/// The delay runs on an event loop, not in `Task.sleep`: a sleeping task wakes a thread of the
/// Dispatch pool, which then hands the task to the event loop, two thread switches per timer.
public final class NodeTimers: Sendable {
    private enum Pending {
        case waiting(Scheduled<Void>)
        case running(Task<Void, Never>)
    }

    private struct State {
        var tasks: [UInt64: Pending] = [:]
        var next: UInt64 = 0
        var stopped = false
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Runs `action` on `owner` after `delay`. The owner is held weakly: a timer does not keep a
    /// stopped node alive. Does nothing after ``cancelAll()``.
    public func schedule<Owner: AnyObject & Sendable>(
        after delay: Duration,
        on owner: Owner,
        _ action: @escaping @Sendable (Owner) async -> Void
    ) {
        let (seconds, attoseconds) = delay.components
        let nanoseconds = max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        state.withLockedValue { state in
            guard !state.stopped else { return }
            let id = state.next
            state.next += 1
            // The callbacks take the lock only after this scope left it: they run on the loop later.
            let scheduled = loop.scheduleTask(in: .nanoseconds(nanoseconds)) { [weak owner, weak self] in
                guard let owner, let self else {
                    self?.finished(id)
                    return
                }
                self.started(id) {
                    Task { [weak self] in
                        if !Task.isCancelled { await action(owner) }
                        self?.finished(id)
                    }
                }
            }
            state.tasks[id] = .waiting(scheduled)
        }
    }

    /// Cancels every pending timer and refuses new ones.
    public func cancelAll() {
        let tasks = state.withLockedValue { state in
            state.stopped = true
            defer { state.tasks.removeAll() }
            return Array(state.tasks.values)
        }
        for task in tasks {
            switch task {
            case .waiting(let scheduled): scheduled.cancel()
            case .running(let task): task.cancel()
            }
        }
    }

    /// Starts the action of timer `id` unless it was cancelled meanwhile.
    private func started(_ id: UInt64, _ start: () -> Task<Void, Never>) {
        state.withLockedValue { state in
            guard state.tasks[id] != nil else { return }
            state.tasks[id] = .running(start())
        }
    }

    /// Timers scheduled and not yet finished.
    public var pending: Int { state.withLockedValue { $0.tasks.count } }

    private func finished(_ id: UInt64) {
        state.withLockedValue { _ = $0.tasks.removeValue(forKey: id) }
    }
}

/// Deadlines that all come from one fixed timeout, so that they arrive in the order they expire:
/// one timer for the earliest replaces a timer per deadline (for example, per request waiting for
/// an answer).
public struct DeadlineQueue<ID: Hashable & Sendable>: Sendable {
    private var entries: [(id: ID, at: ContinuousClock.Instant)] = []
    private var head = 0

    public init() {}

    /// Adds a deadline; it must not be earlier than the ones added before it.
    public mutating func add(_ id: ID, at deadline: ContinuousClock.Instant) {
        entries.append((id, deadline))
    }

    /// The earliest deadline still queued.
    public var earliest: ContinuousClock.Instant? { head < entries.count ? entries[head].at : nil }

    public var count: Int { entries.count - head }

    /// Removes and returns the ids whose deadline is at or before `now`.
    public mutating func expired(at now: ContinuousClock.Instant) -> [ID] {
        var result: [ID] = []
        while head < entries.count, entries[head].at <= now {
            result.append(entries[head].id)
            head += 1
        }
        if head > 1024, head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
        return result
    }
}
