public import NIOCore

/// What a log position holds once a proposal performed it.
///
/// Entry bytes are a `ByteBuffer` so that a value read off the wire or out of a file can be passed
/// along as a slice of the buffer it arrived in, without copying the bytes once more.
public enum ActionValue: Sendable, Hashable {
    /// A hole filler. A `tombstone` NOP stands for a position removed by a learned truncation.
    case nop(tombstone: Bool)
    /// An entry appended by a client: opaque bytes.
    case append(ByteBuffer)
    /// Removes every position strictly below `to` once learned.
    case truncate(to: Position)

    /// The number of entry bytes this value carries (zero for NOP and TRUNCATE).
    public var byteCount: Int {
        if case .append(let bytes) = self { return bytes.readableBytes }
        return 0
    }
}

/// The state of one log position on one replica: the Paxos acceptor's record for that position.
///
/// `promised` is the highest proposal this replica promised for the position; `performed` is the
/// proposal whose write it accepted, together with `value`; `learned` says the value is chosen.
/// A learned action is final: its value never changes again.
public struct Action: Sendable, Hashable {
    public var position: Position
    public var promised: Proposal
    public var performed: Proposal?
    public var learned: Bool
    public var value: ActionValue?

    public init(
        position: Position,
        promised: Proposal,
        performed: Proposal? = nil,
        learned: Bool = false,
        value: ActionValue? = nil
    ) {
        self.position = position
        self.promised = promised
        self.performed = performed
        self.learned = learned
        self.value = value
    }

    /// A learned action that performed `value` with `proposal`.
    public static func learned(_ value: ActionValue, at position: Position, proposal: Proposal) -> Action {
        Action(position: position, promised: proposal, performed: proposal, learned: true, value: value)
    }

    /// Why this action is not internally consistent, or `nil` when it is.
    ///
    /// A performed action carries a value and a learned action was performed; decoders of the wire
    /// format and of the store both use this to refuse records that cannot have been written.
    public var inconsistency: String? {
        if (performed == nil) != (value == nil) {
            return "an action carries a value exactly when it has a performed proposal"
        }
        if learned && performed == nil {
            return "a learned action must have been performed"
        }
        if let performed, performed > promised {
            return "performed proposal \(performed) is above promised proposal \(promised)"
        }
        return nil
    }
}

/// The fixed part of a stored action: enough to decide about a learned range without reading
/// the value, which may be megabytes.
public struct ActionSummary: Sendable, Hashable {
    /// The proposal the value was performed with, if a value is stored.
    public var performed: Proposal?
    public var learned: Bool
    /// Whether the value is a TRUNCATE (learning it moves the log's beginning).
    public var isTruncate: Bool

    public init(performed: Proposal?, learned: Bool, isTruncate: Bool) {
        self.performed = performed
        self.learned = learned
        self.isTruncate = isTruncate
    }

    public init(_ action: Action) {
        var isTruncate = false
        if case .truncate? = action.value { isTruncate = true }
        self.init(performed: action.performed, learned: action.learned, isTruncate: isTruncate)
    }
}
