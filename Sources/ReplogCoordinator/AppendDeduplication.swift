import ReplogWire

/// Remembers recent appends by their idempotency token, so that a client's retry of an append
/// that was (or is being) applied gets the first one's answer instead of a second append.
struct AppendDeduplication<Waiter> {
    enum State {
        case inFlight([Waiter])
        case done(AppendResponse)
    }

    private(set) var states: [AppendToken: State] = [:]
    private var order: [AppendToken] = []
    private var head = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// What to do with a new append: `nil` means "apply it" (it is now in flight), otherwise the
    /// state of the earlier append with the same token.
    mutating func begin(_ token: AppendToken, waiter: Waiter) -> State? {
        if let existing = states[token] {
            if case .inFlight(var waiters) = existing {
                waiters.append(waiter)
                states[token] = .inFlight(waiters)
            }
            return existing
        }
        states[token] = .inFlight([waiter])
        order.append(token)
        evict()
        return nil
    }

    /// Records an append another leader applied, so that a retry of it gets this answer; an
    /// append this coordinator already knows of is left as it is.
    mutating func remember(_ token: AppendToken, _ response: AppendResponse) {
        guard states[token] == nil else { return }
        states[token] = .done(response)
        order.append(token)
        evict()
    }

    /// The append finished: returns everyone waiting for it.
    mutating func finish(_ token: AppendToken, with response: AppendResponse?) -> [Waiter] {
        guard case .inFlight(let waiters) = states[token] else { return [] }
        // A failed append is forgotten, so that a retry applies it afresh.
        states[token] = response.map { .done($0) }
        return waiters
    }

    private mutating func evict() {
        while order.count - head > capacity {
            let oldest = order[head]
            head += 1
            if case .done = states[oldest] { states[oldest] = nil }
        }
        if head > capacity {
            order.removeFirst(head)
            head = 0
        }
    }
}
