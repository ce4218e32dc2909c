import NIOCore
public import ReplogModel

/// Watches a simulated cluster and records every broken invariant.
///
/// - Agreement: no two replicas ever learn different values at one position, and a learned
///   position never changes (every learned action is compared with the first one seen there).
/// - Durability of acknowledgements: an append acknowledged at position `p` is the value learned
///   at `p`, and at the end every replica holds it (unless a truncation to above `p` was asked for).
/// - Truncation: no replica's `begin` ever passes the highest truncation target a client asked for.
public struct InvariantChecker: Sendable {
    public private(set) var violations: [String] = []
    /// The value first learned at each position, by any replica.
    public private(set) var learned: [Position: ActionValue] = [:]
    /// What each acknowledged append put at its position.
    public private(set) var acknowledged: [Position: ActionValue] = [:]
    /// The highest truncation target any client submitted.
    public private(set) var highestTruncateRequested: Position = 0

    public init() {}

    mutating func fail(_ text: String) {
        if violations.count < 20 { violations.append(text) }
    }

    public mutating func replicaLearned(_ replica: String, _ action: Action) {
        guard let value = action.value else {
            fail("\(replica) learned position \(action.position) without a value")
            return
        }
        if case .nop(tombstone: true) = value { return }
        if let earlier = learned[action.position] {
            if earlier != value {
                fail(
                    "agreement: \(replica) learned \(describe(value)) at \(action.position), another replica "
                        + "learned \(describe(earlier))"
                )
            }
        } else {
            learned[action.position] = value
        }
        if let expected = acknowledged[action.position], expected != value {
            fail(
                "acknowledged append at \(action.position) was \(describe(expected)) but \(replica) learned "
                    + describe(value)
            )
        }
    }

    public mutating func truncateRequested(_ target: Position) {
        highestTruncateRequested = max(highestTruncateRequested, target)
    }

    public mutating func appendAcknowledged(_ value: ActionValue, at position: Position) {
        if let previous = acknowledged[position], previous != value {
            fail("two appends acknowledged at position \(position): \(describe(previous)) and \(describe(value))")
        }
        acknowledged[position] = value
        if let chosen = learned[position], chosen != value {
            fail("append acknowledged at \(position) as \(describe(value)) but \(describe(chosen)) was learned there")
        }
    }

    public mutating func replicaBegin(_ replica: String, _ begin: Position) {
        if begin > max(highestTruncateRequested, 0), begin > 0 {
            fail(
                "truncation: \(replica) begins at \(begin), above every requested target (\(highestTruncateRequested))"
            )
        }
    }

    /// The final check on a replica's log once the cluster has converged.
    public mutating func finalLog(_ replica: String, image: LogImage) {
        for (position, value) in acknowledged.sorted(by: { $0.key < $1.key }) where position >= image.begin {
            guard let action = image.action(at: position), action.learned else {
                fail(
                    "acknowledged append at \(position) is not learned on \(replica) at the end (begin \(image.begin))"
                )
                continue
            }
            if action.value != value {
                fail("acknowledged append at \(position) is \(describe(action.value)) on \(replica) at the end")
            }
        }
    }

    func describe(_ value: ActionValue?) -> String {
        switch value {
        case .none: "nothing"
        case .nop(let tombstone)?: tombstone ? "NOP(tombstone)" : "NOP"
        case .truncate(let to)?: "TRUNCATE(\(to))"
        case .append(let bytes)?: "APPEND(\(String(buffer: bytes)))"
        }
    }
}
