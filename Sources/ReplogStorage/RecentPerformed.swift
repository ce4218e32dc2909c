import ReplogModel

/// The performed proposals of the records written last, by position and record location.
///
/// Learning a position checks which proposal its value was performed with. For the values just
/// written, which are nearly always the ones being learned, that answer is here instead of in a
/// read back from the segment (two `pread`s per position measured under load). A slot answers
/// only for the very record it was filled from: same position, same segment and offset.
struct RecentPerformed {
    private struct Slot {
        var position: Position = 0
        /// The index entry without its learned bit (which changes when the position is learned).
        var location: UInt64 = 0
        var performed: Proposal = 0
        var hasPerformed = false
        var filled = false
    }

    private static let capacity = 8192
    private var slots = [Slot](repeating: Slot(), count: capacity)

    private static func location(_ entry: PositionIndex.Entry) -> UInt64 {
        entry.raw & ~PositionIndex.Entry.learnedBit
    }

    /// Notes that `entry` (the record of `position`) holds a value performed with `performed`.
    mutating func note(_ position: Position, _ entry: PositionIndex.Entry, performed: Proposal?) {
        slots[Int(position % UInt64(Self.capacity))] = Slot(
            position: position,
            location: Self.location(entry),
            performed: performed ?? 0,
            hasPerformed: performed != nil,
            filled: true
        )
    }

    /// The performed proposal of the record `entry` of `position`, if it is known here: `.some(nil)`
    /// for a record that performed nothing, `nil` when unknown.
    func performed(at position: Position, _ entry: PositionIndex.Entry) -> Proposal?? {
        let slot = slots[Int(position % UInt64(Self.capacity))]
        guard slot.filled, slot.position == position, slot.location == Self.location(entry) else { return nil }
        return .some(slot.hasPerformed ? slot.performed : nil)
    }
}
