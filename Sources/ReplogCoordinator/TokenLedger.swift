import ReplogModel
import ReplogWire

/// Which positions the leaders gave to appends with idempotency tokens, as far as this
/// coordinator heard (its own assignments and the leader's ``LeaderProgress`` messages), so that
/// when it takes over it can answer a client's retry of an append that the old leader wrote but
/// never acknowledged, instead of appending it a second time.
///
/// An assignment counts as applied when the leader that made it reported its positions learned
/// under the same proposal, or when this coordinator's own election found exactly that proposal's
/// values at all of its positions (``Coordinator/fillOrigins``). Anything else was not applied
/// (its positions hold a NOP or another value), and a retry appends it afresh.
struct TokenLedger {
    struct Entry: Equatable {
        var proposal: Proposal
        var position: Position
        var count: UInt32
    }

    private(set) var entries: [AppendToken: Entry] = [:]
    private var order: [AppendToken] = []
    private var head = 0
    /// For each recent proposal, the highest position its leader reported learned while it led
    /// with that proposal.
    private(set) var learned: [Proposal: Position] = [:]
    let capacity: Int
    /// Proposals whose learned positions are remembered (older ones are forgotten first).
    let proposalCapacity = 64

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// A leader gave these positions under `proposal`.
    mutating func record(_ assignments: [TokenAssignment], proposal: Proposal) {
        for assignment in assignments where assignment.token.client != 0 {
            if entries[assignment.token] == nil { order.append(assignment.token) }
            entries[assignment.token] = Entry(
                proposal: proposal,
                position: assignment.position,
                count: assignment.count
            )
        }
        evict()
    }

    /// The leader with `proposal` reported every position up to `position` learned.
    mutating func confirm(learnedThrough position: Position, proposal: Proposal) {
        learned[proposal] = max(learned[proposal] ?? 0, position)
        if learned.count > proposalCapacity, let oldest = learned.keys.min() { learned[oldest] = nil }
    }

    /// The recorded appends that are in the log, with where: `origins` maps positions this
    /// coordinator's election filled to the proposal that had written the value it kept.
    func applied(origins: [Position: Proposal]) -> [(token: AppendToken, response: AppendResponse)] {
        var result: [(token: AppendToken, response: AppendResponse)] = []
        for token in order[head...] {
            guard let entry = entries[token] else { continue }
            let last = entry.position + Position(entry.count) - 1
            let learnedByItsLeader = (learned[entry.proposal] ?? 0) >= last
            let foundByTheFill = (entry.position...last).allSatisfy { origins[$0] == entry.proposal }
            if learnedByItsLeader || foundByTheFill {
                result.append((token, AppendResponse(position: entry.position, count: entry.count)))
            }
        }
        return result
    }

    private mutating func evict() {
        while order.count - head > capacity {
            entries[order[head]] = nil
            head += 1
        }
        if head > capacity {
            order.removeFirst(head)
            head = 0
        }
    }
}
