import ReplogModel

/// The derived state of the log: everything rebuilt from the segments on open and kept up to
/// date as records become durable. Pure bookkeeping; no I/O.
struct StoreState {
    var index = PositionIndex()
    /// Lowest position kept (raised by learned TRUNCATE actions).
    var begin: Position = 0
    /// Highest position that has an action (0 when none).
    var end: Position = 0
    /// The highest position each segment's records refer to; a segment whose value is below
    /// `begin` holds nothing that matters any more and can be deleted.
    var segmentMax: [UInt64: Position] = [:]
    /// TRUNCATE actions not yet learned, by position, with their target, so that learning them
    /// later (by a learned-range record) can raise `begin` without reading the file.
    var pendingTruncates: [Position: Position] = [:]

    mutating func noteSegment(_ segment: UInt64, refersTo position: Position) {
        segmentMax[segment] = max(segmentMax[segment] ?? 0, position)
    }

    /// Records that the current record of `position` is at (`segment`, `offset`).
    /// Returns whether `begin` moved.
    @discardableResult
    mutating func applyAction(
        position: Position,
        learned: Bool,
        truncateTo: Position?,
        segment: UInt64,
        offset: Int
    ) -> Bool {
        noteSegment(segment, refersTo: max(position, truncateTo ?? 0))
        guard position >= begin else { return false }
        index.set(
            position,
            .init(segment: segment, offset: offset, learned: learned, truncate: truncateTo != nil)
        )
        end = max(end, position)
        pendingTruncates[position] = nil
        if let truncateTo {
            if learned { return raiseBegin(to: truncateTo) }
            pendingTruncates[position] = truncateTo
        }
        return false
    }

    /// Marks the present positions of `first ..< first + count` learned. Returns whether `begin` moved.
    @discardableResult
    mutating func applyLearned(first: Position, count: UInt64, segment: UInt64) -> Bool {
        guard count > 0 else { return false }
        let (last, overflow) = first.addingReportingOverflow(count - 1)
        let upper = overflow ? Position.max : last
        noteSegment(segment, refersTo: upper)
        let lower = max(first, begin)
        guard lower <= upper else { return false }
        var learned: [(Position, PositionIndex.Entry)] = []
        index.forEach(in: lower...upper) { position, entry in
            if !entry.isDamaged && !entry.isLearned { learned.append((position, entry)) }
        }
        var target: Position?
        for (position, entry) in learned {
            index.set(position, PositionIndex.Entry(raw: entry.raw | PositionIndex.Entry.learnedBit))
            if entry.isTruncate, let to = pendingTruncates.removeValue(forKey: position) {
                target = max(target ?? 0, to)
            }
        }
        if let target { return raiseBegin(to: target) }
        return false
    }

    /// Remembers that the record of `position` is damaged, so that reads of it fail.
    /// `end` is not moved: the position comes from a damaged record and may be garbage.
    mutating func markDamaged(_ position: Position) {
        guard position >= begin, position <= end else { return }
        index.set(position, .damaged())
    }

    mutating func raiseBegin(to target: Position) -> Bool {
        guard target > begin else { return false }
        begin = target
        index.removeBelow(target)
        pendingTruncates = pendingTruncates.filter { $0.key >= target }
        return true
    }

    /// Segments other than `current` whose records all refer to positions below `begin`.
    func obsoleteSegments(keeping current: UInt64?) -> [UInt64] {
        segmentMax.filter { $0.key != current && $0.value < begin }.map(\.key).sorted()
    }
}
