import ReplogModel
import ReplogWire

/// Keeps a replica from voting on positions its disk lost.
///
/// A replica that promised or accepted a value at a position and then lost the record would answer
/// as if it never had: a new proposer could then choose another value at a position that was
/// already chosen. So while a position is damaged, promises and unlearned writes touching it are
/// refused with `corruption` (the proposer counts that as no answer; the other replicas make the
/// quorum). Learned values still pass: a chosen value is safe to store, and storing it heals the
/// position. Catch-up does not serve the position either (the store will not read it).
///
/// An implicit promise answers with the replica's end, so it is refused while a damaged record
/// lies above the end (it may have held a write the new proposer must hear about). Damage whose
/// position is unknown (a damaged segment header or record length) makes the replica refuse every
/// promise and unlearned write: it cannot tell which positions it may still vote on.
struct DamageGuard {
    /// This replica's name in the error texts, e.g. "replica 2".
    var replica: String
    /// Whether a position holds a damaged record that nothing newer replaces.
    var isDamaged: (Position) -> Bool
    /// The highest damaged position, if any.
    var highestDamaged: Position?
    /// Where damage of unknown position was found (empty when there is none).
    var unknownDamage: [String]
    /// The replica's end as the core sees it.
    var end: Position

    /// The error to answer `message` with instead of letting the replica vote, or nil.
    func refusal(for message: Message) -> ErrorReply? {
        switch message {
        case .promiseRequest(let request):
            if !unknownDamage.isEmpty { return refuseEverything() }
            if let position = request.position {
                return isDamaged(position) ? refuse(position) : nil
            }
            if let highest = highestDamaged, highest > end { return refuse(highest) }
            return nil
        case .writeRequest(let request) where !request.learned:
            if !unknownDamage.isEmpty { return refuseEverything() }
            for offset in request.values.indices {
                let (position, overflow) = request.position.addingReportingOverflow(Position(offset))
                if overflow { break }
                if isDamaged(position) { return refuse(position) }
            }
            return nil
        default:
            return nil
        }
    }

    private func refuse(_ position: Position) -> ErrorReply {
        ErrorReply(
            code: .corruption,
            value: position,
            text: "position \(position) is damaged on \(replica)'s disk and is not served; \(replica) takes no "
                + "vote on it until it learns the position from its peers (see `replog status`)"
        )
    }

    private func refuseEverything() -> ErrorReply {
        ErrorReply(
            code: .corruption,
            text:
                "\(replica)'s disk holds damage at unknown positions (\(unknownDamage.prefix(3).joined(separator: "; "))); "
                + "it takes no votes: re-create it and let it recover from its peers"
        )
    }
}
