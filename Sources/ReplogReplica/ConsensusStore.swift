public import ReplogConsensus
public import ReplogModel
public import ReplogStorage

/// The replica state machine's view of a ``ReplicaStore``.
///
/// The consensus core reads synchronously and expects its reads to reflect every persist it
/// issued, even before the disk confirms it (durability only gates replies, which the core
/// holds back itself). The store, in turn, makes data visible once it is durable. This adapter
/// bridges the two: ``stage(_:token:)`` overlays issued records at once, ``commit(_:token:)``
/// makes them durable, and the overlay entries are dropped as the store catches up.
///
/// Not thread-safe: one owner (the replica's actor) uses it.
public final class ConsensusStore: ReplicaStoreReading {
    public let store: ReplicaStore
    private var pendingMetadata: (value: ReplicaMetadata, token: UInt64)?
    private var pendingActions: [Position: (action: Action, token: UInt64)] = [:]
    /// Learned ranges over values the store already holds, not yet durable.
    private var pendingLearned: [(range: ClosedRange<Position>, proposal: Proposal, token: UInt64)] = []
    private var pendingBegin: Position = 0
    private var pendingEnd: Position = 0
    /// Positions whose stored record could not be read back (checksum failure or I/O error).
    public private(set) var unreadable: [Position: String] = [:]

    public init(store: ReplicaStore) {
        self.store = store
    }

    // MARK: ReplicaStoreReading

    public var metadata: ReplicaMetadata {
        if let pending = pendingMetadata { return pending.value }
        let stored = store.metadata
        return ReplicaMetadata(status: stored.status, promised: stored.promised)
    }

    public var begin: Position { max(store.begin, pendingBegin) }

    public var end: Position { max(store.end, pendingEnd) }

    public func action(at position: Position) -> Action? {
        guard position >= begin else { return nil }
        if let pending = pendingActions[position] { return pending.action }
        do {
            guard var action = try store.action(at: position) else { return nil }
            if !action.learned, let proposal = action.performed, learnedPending(position, proposal) {
                action.learned = true
            }
            return action
        } catch {
            // The position is not served: the replica treats it as missing (and a peer's copy
            // will be fetched by catch-up), while the damage is reported through `unreadable`.
            unreadable[position] = "\(error)"
            return nil
        }
    }

    public func summary(at position: Position) -> ActionSummary? {
        guard position >= begin else { return nil }
        if let pending = pendingActions[position] { return ActionSummary(pending.action) }
        do {
            guard var summary = try store.summary(at: position) else { return nil }
            if !summary.learned, let proposal = summary.performed, learnedPending(position, proposal) {
                summary.learned = true
            }
            return summary
        } catch {
            unreadable[position] = "\(error)"
            return nil
        }
    }

    public func isLearned(at position: Position) -> Bool {
        guard position >= begin else { return false }
        if let pending = pendingActions[position] { return pending.action.learned }
        if store.isLearned(at: position) { return true }
        // A staged learned range over a stored value: learned if the value is the chosen one.
        guard pendingLearned.contains(where: { $0.range.contains(position) }) else { return false }
        return summary(at: position)?.learned == true
    }

    private func learnedPending(_ position: Position, _ performed: Proposal) -> Bool {
        pendingLearned.contains { $0.range.contains(position) && $0.proposal == performed }
    }

    // MARK: Persisting

    /// Makes `records` visible to reads at once, before they are durable.
    public func stage(_ records: [StoreRecord], token: UInt64) {
        for record in records {
            switch record {
            case .metadata(let metadata):
                pendingMetadata = (metadata, token)
            case .actions(let actions):
                for action in actions {
                    pendingActions[action.position] = (action, token)
                    pendingEnd = max(pendingEnd, action.position)
                    if action.learned, case .truncate(let to)? = action.value { pendingBegin = max(pendingBegin, to) }
                }
            case .learned(let first, let count, let proposal):
                stageLearned(first: first, count: count, proposal: proposal, token: token)
            }
        }
        if pendingBegin > 0 {
            for position in pendingActions.keys where position < pendingBegin { pendingActions[position] = nil }
        }
    }

    /// Marks staged values of the range learned in the overlay (they stay there until this
    /// record is durable), and remembers the range for the values the store already holds.
    private func stageLearned(first: Position, count: UInt64, proposal: Proposal, token: UInt64) {
        guard count > 0 else { return }
        let (sum, overflow) = first.addingReportingOverflow(count - 1)
        let lower = max(first, begin)
        let upper = min(overflow ? Position.max : sum, end)
        guard lower <= upper else { return }
        for position in lower...upper {
            guard var pending = pendingActions[position], !pending.action.learned,
                pending.action.performed == proposal
            else { continue }
            pending.action.learned = true
            pending.token = token
            pendingActions[position] = pending
            if case .truncate(let to)? = pending.action.value { pendingBegin = max(pendingBegin, to) }
        }
        pendingLearned.append((lower...upper, proposal, token))
        // A stored TRUNCATE that becomes learned moves the beginning at once, as it will in the store.
        for position in store.truncates(in: lower...upper) where pendingActions[position] == nil {
            if let action = try? store.action(at: position), action.performed == proposal,
                case .truncate(let to)? = action.value
            {
                pendingBegin = max(pendingBegin, to)
            }
        }
    }

    /// Makes staged persists durable, in the order they were issued; afterwards the overlay
    /// entries they staged (and that no later stage replaced) are dropped, since the store now
    /// serves them.
    ///
    /// The caller runs one commit at a time and passes every persist issued since the last one:
    /// consecutive action records then share one store write and one fsync (group commit at the
    /// shell), and the store applies everything in issue order, as the core requires.
    public func commit(
        _ persists: [(records: [StoreRecord], token: UInt64)],
        isolation: isolated (any Actor)? = #isolation
    ) async throws {
        var writes: [StoreWrite] = []
        for record in persists.flatMap(\.records) {
            switch record {
            case .actions(let actions):
                writes.append(.actions(actions))
            case .learned(let first, let count, let proposal):
                writes.append(.learned(first: first, count: count, proposal: proposal))
            case .metadata(let metadata):
                if !writes.isEmpty {
                    try await store.persist(writes)
                    writes.removeAll()
                }
                try await store.updateMetadata {
                    $0.status = metadata.status
                    $0.promised = metadata.promised
                }
            }
        }
        if !writes.isEmpty { try await store.persist(writes) }
        // A position written since it failed to read is served from the new record (a learned
        // mark alone does not heal it: the store skips damaged positions and the core never
        // marks a position it could not read).
        for record in persists.flatMap(\.records) {
            if case .actions(let written) = record { for action in written { unreadable[action.position] = nil } }
        }
        let tokens = Set(persists.map(\.token))
        if let pending = pendingMetadata, tokens.contains(pending.token) { pendingMetadata = nil }
        for (position, pending) in pendingActions where tokens.contains(pending.token) {
            pendingActions[position] = nil
        }
        pendingLearned.removeAll { tokens.contains($0.token) }
        if pendingActions.isEmpty { pendingEnd = 0 }
        if store.begin >= pendingBegin { pendingBegin = 0 }
    }

    // MARK: Damage

    /// Whether `position` holds a record the store found damaged or could not read, which nothing
    /// issued since replaces.
    public func isDamaged(_ position: Position) -> Bool {
        pendingActions[position] == nil && (unreadable[position] != nil || store.isDamaged(position))
    }

    /// The damaged positions (see ``isDamaged(_:)``), ascending.
    public var damagedPositions: [Position] {
        guard mayHoldDamage else { return [] }
        return Set(store.damagedPositions + unreadable.keys).filter(isDamaged).sorted()
    }

    /// False when the store opened clean and every read succeeded (the common case, checked first
    /// on every request).
    public var mayHoldDamage: Bool { !store.corruption.isEmpty || !unreadable.isEmpty }

    /// The number of records waiting to become durable (for metrics and tests).
    public var pendingCount: Int {
        pendingActions.count + pendingLearned.count + (pendingMetadata == nil ? 0 : 1)
    }
}
