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
            return try store.action(at: position)
        } catch {
            // The position is not served: the replica treats it as missing (and a peer's copy
            // will be fetched by catch-up), while the damage is reported through `unreadable`.
            unreadable[position] = "\(error)"
            return nil
        }
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
            }
        }
        if pendingBegin > 0 {
            for position in pendingActions.keys where position < pendingBegin { pendingActions[position] = nil }
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
        var actions: [Action] = []
        for record in persists.flatMap(\.records) {
            switch record {
            case .actions(let more):
                actions += more
            case .metadata(let metadata):
                if !actions.isEmpty {
                    try await store.persist(actions: actions)
                    actions.removeAll()
                }
                try await store.updateMetadata {
                    $0.status = metadata.status
                    $0.promised = metadata.promised
                }
            }
        }
        if !actions.isEmpty { try await store.persist(actions: actions) }
        // A position written since it failed to read is served from the new record.
        for record in persists.flatMap(\.records) {
            if case .actions(let written) = record { for action in written { unreadable[action.position] = nil } }
        }
        let tokens = Set(persists.map(\.token))
        if let pending = pendingMetadata, tokens.contains(pending.token) { pendingMetadata = nil }
        for (position, pending) in pendingActions where tokens.contains(pending.token) {
            pendingActions[position] = nil
        }
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
    public var pendingCount: Int { pendingActions.count + (pendingMetadata == nil ? 0 : 1) }
}
