/// The requests outstanding on one connection: request ids, and the bound on how many may be in
/// flight at once (so a slow peer cannot make us queue without limit).
///
/// Generic over what is stored per request so that it is tested without NIO.
struct RequestTable<Pending> {
    let limit: Int
    private(set) var nextID: UInt64 = 1
    private var pending: [UInt64: Pending] = [:]

    init(limit: Int) {
        precondition(limit > 0, "the in-flight limit must be positive")
        self.limit = limit
    }

    var count: Int { pending.count }
    var isFull: Bool { pending.count >= limit }

    /// Assigns the next id and stores what `make` builds for it, or returns `nil` when the table
    /// is full (and `make` is not called).
    mutating func insert(_ make: (UInt64) -> Pending) -> UInt64? {
        guard !isFull else { return nil }
        let id = nextID
        // Id 0 is reserved for the hello and connection-level errors; wrap past it.
        nextID = nextID == UInt64.max ? 1 : nextID + 1
        pending[id] = make(id)
        return id
    }

    /// Removes and returns the request `id`, if it is still outstanding.
    mutating func remove(_ id: UInt64) -> Pending? {
        pending.removeValue(forKey: id)
    }

    /// Removes and returns the requests for which `overdue` holds.
    mutating func removeAll(where overdue: (Pending) -> Bool) -> [Pending] {
        let removed = pending.filter { overdue($0.value) }
        for id in removed.keys { pending.removeValue(forKey: id) }
        return Array(removed.values)
    }

    /// The least value of `key` over the outstanding requests.
    func earliest<Key: Comparable>(by key: (Pending) -> Key) -> Key? {
        pending.values.lazy.map(key).min()
    }

    /// Removes and returns every outstanding request (when the connection closes).
    mutating func removeAll() -> [Pending] {
        defer { pending.removeAll() }
        return Array(pending.values)
    }
}
