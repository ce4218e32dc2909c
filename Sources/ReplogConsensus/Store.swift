public import ReplogModel

/// The replica metadata the store keeps next to the log: status and the highest implicit promise.
public struct ReplicaMetadata: Sendable, Hashable {
    public var status: ReplicaStatus
    public var promised: Proposal
    public init(status: ReplicaStatus = .empty, promised: Proposal = 0) {
        self.status = status
        self.promised = promised
    }
}

/// One record the replica asks its store to persist.
///
/// The store applies records in the order they were issued. Storing a learned TRUNCATE action
/// (`.truncate(to: t)`) makes the store drop every position below `t` and report `begin >= t`.
public enum StoreRecord: Sendable, Hashable {
    /// Replaces the metadata (`persist(promise:)` / status change in `ReplogStorage`).
    case metadata(ReplicaMetadata)
    /// Stores these actions, each replacing what the position held (`persist(actions:)`).
    case actions([Action])
    /// Marks `count` positions from `first` learned; each holds a value performed with
    /// `proposal` (stored earlier or by an earlier record). A learned range costs the store one
    /// small record instead of rewriting every value with its learned bit.
    case learned(first: Position, count: UInt64, proposal: Proposal)
}

/// Names one persist so that its confirmation can release the replies that waited for it.
public struct PersistToken: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (lhs: PersistToken, rhs: PersistToken) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "persist#\(rawValue)" }
}

/// What the replica state machine reads from its store.
///
/// Contract with the shell: once the shell has carried out a `.persist(records, token)` directive,
/// reads reflect those records, even before the store confirms durability with
/// ``Replica/persisted(_:)``. Durability only gates replies, which the replica holds back itself.
public protocol ReplicaStoreReading {
    var metadata: ReplicaMetadata { get }
    /// The first position not removed by a learned truncation (0 for a fresh log).
    var begin: Position { get }
    /// The highest position holding an action (0 for an empty log).
    var end: Position { get }
    /// The action at `position`, or `nil` when the position holds nothing or is below `begin`.
    func action(at position: Position) -> Action?
    /// The action's fixed part (a store can answer without reading the value).
    func summary(at position: Position) -> ActionSummary?
    /// Whether `position` holds a learned action (a store can answer from its index alone).
    func isLearned(at position: Position) -> Bool
}

extension ReplicaStoreReading {
    public func summary(at position: Position) -> ActionSummary? {
        action(at: position).map(ActionSummary.init)
    }

    public func isLearned(at position: Position) -> Bool {
        summary(at: position)?.learned == true
    }
}
