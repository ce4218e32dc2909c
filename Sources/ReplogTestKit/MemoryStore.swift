public import ReplogConsensus
public import ReplogModel

/// A replica's log as a store holds it: metadata and actions, with `begin` and `end` derived the
/// way `ReplogStorage` derives them (a learned TRUNCATE removes every position below its target).
public struct LogImage: ReplicaStoreReading, Sendable, Hashable {
    public var metadata = ReplicaMetadata()
    public var actions: [Position: Action] = [:]
    public private(set) var begin: Position = 0
    public private(set) var end: Position = 0

    public init(metadata: ReplicaMetadata = ReplicaMetadata()) {
        self.metadata = metadata
    }

    public func action(at position: Position) -> Action? {
        position < begin ? nil : actions[position]
    }

    /// Applies records in order; `onLearned` sees every action stored as learned.
    public mutating func apply(_ records: [StoreRecord], onLearned: (Action) -> Void = { _ in }) {
        for record in records {
            switch record {
            case .metadata(let metadata):
                self.metadata = metadata
            case .actions(let actions):
                for action in actions where action.position >= begin {
                    self.actions[action.position] = action
                    end = max(end, action.position)
                    if action.learned { learn(action, onLearned: onLearned) }
                }
            case .learned(let first, let count, let proposal):
                // As ReplogStorage does: the present, unlearned positions of the range become
                // learned (the core only sends ranges whose values were performed with `proposal`).
                guard count > 0 else { continue }
                let (last, overflow) = first.addingReportingOverflow(count - 1)
                let upper = overflow ? Position.max : last
                guard max(first, begin) <= min(upper, end) else { continue }
                for position in max(first, begin)...min(upper, end) {
                    guard var action = self.actions[position], !action.learned, position >= begin else { continue }
                    precondition(action.performed == proposal, "learned range over a value of another proposal")
                    action.learned = true
                    self.actions[position] = action
                    learn(action, onLearned: onLearned)
                }
            }
        }
    }
}

extension LogImage {
    fileprivate mutating func learn(_ action: Action, onLearned: (Action) -> Void) {
        onLearned(action)
        if case .truncate(let target) = action.value, target > begin {
            begin = target
            for position in actions.keys where position < target { actions[position] = nil }
        }
    }
}

/// An in-memory model of a durable store: what was persisted is visible at once, but only what
/// was synced survives a crash. A crash can also keep a prefix of the unsynced batches, as a torn
/// write at the end of a write-ahead log would.
public struct MemoryStore: Sendable {
    public private(set) var visible = LogImage()
    public private(set) var durable = LogImage()
    var pending: [(token: PersistToken, records: [StoreRecord])] = []

    public init(metadata: ReplicaMetadata = ReplicaMetadata()) {
        visible = LogImage(metadata: metadata)
        durable = visible
    }

    /// Batches persisted but not yet durable.
    public var pendingCount: Int { pending.count }

    /// Takes records to persist; they are readable at once and durable after ``sync()``.
    public mutating func persist(_ records: [StoreRecord], token: PersistToken, onLearned: (Action) -> Void = { _ in })
    {
        visible.apply(records, onLearned: onLearned)
        pending.append((token, records))
    }

    /// Makes everything persisted so far durable; returns the last token, if there was any.
    public mutating func sync() -> PersistToken? {
        guard let last = pending.last?.token else { return nil }
        for batch in pending { durable.apply(batch.records) }
        pending = []
        return last
    }

    /// The process died: only durable state, plus the first `keeping` unsynced batches, remain.
    public mutating func crash(keeping: Int) {
        for batch in pending.prefix(keeping) { durable.apply(batch.records) }
        pending = []
        visible = durable
    }

    /// The disk was replaced: the replica comes back EMPTY.
    public mutating func wipe() {
        pending = []
        durable = LogImage()
        visible = durable
    }
}
