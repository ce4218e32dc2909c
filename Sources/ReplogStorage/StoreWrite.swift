public import ReplogModel

/// One write of a ``ReplicaStore/persist(_:)`` call.
public enum StoreWrite: Sendable, Hashable {
    /// Actions, each replacing whatever its position held.
    case actions([Action])
    /// Marks `count` positions from `first` learned; each must hold a value performed with
    /// `proposal`, stored before or earlier in the same call. Costs one small record, however
    /// large the values are.
    case learned(first: Position, count: UInt64, proposal: Proposal)
}
