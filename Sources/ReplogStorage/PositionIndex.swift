import ReplogModel

/// Where the current record of each position lives, in 8 bytes per position.
///
/// Positions are grouped in chunks of 4,096 so that a log with gaps (or with millions of truncated
/// positions) only pays for the chunks it uses. An entry packs:
/// bits 0-31 the record's offset in its segment, bits 32-55 the segment number, bit 60 "the value
/// is a TRUNCATE", bit 61 "the record was found damaged", bit 62 "learned", bit 63 "present".
struct PositionIndex {
    struct Entry: Equatable {
        var raw: UInt64

        static let present: UInt64 = 1 << 63
        static let learnedBit: UInt64 = 1 << 62
        static let damagedBit: UInt64 = 1 << 61
        static let truncateBit: UInt64 = 1 << 60
        static let maxSegment: UInt64 = (1 << 24) - 1

        init(raw: UInt64) { self.raw = raw }

        init(segment: UInt64, offset: Int, learned: Bool, truncate: Bool) {
            raw = Self.present | (segment << 32) | UInt64(UInt32(offset))
            if learned { raw |= Self.learnedBit }
            if truncate { raw |= Self.truncateBit }
        }

        static func damaged() -> Entry { Entry(raw: present | damagedBit) }

        var isPresent: Bool { raw & Self.present != 0 }
        var isLearned: Bool { raw & Self.learnedBit != 0 }
        var isDamaged: Bool { raw & Self.damagedBit != 0 }
        var isTruncate: Bool { raw & Self.truncateBit != 0 }
        var segment: UInt64 { (raw >> 32) & Self.maxSegment }
        var offset: Int { Int(raw & 0xFFFF_FFFF) }
    }

    static let chunkShift = 12
    static let chunkSize = 1 << chunkShift

    private var chunks: [UInt64: [UInt64]] = [:]
    private(set) var count = 0

    subscript(position: Position) -> Entry? {
        guard let chunk = chunks[position >> UInt64(Self.chunkShift)] else { return nil }
        let entry = Entry(raw: chunk[Int(position & UInt64(Self.chunkSize - 1))])
        return entry.isPresent ? entry : nil
    }

    mutating func set(_ position: Position, _ entry: Entry) {
        let key = position >> UInt64(Self.chunkShift)
        let slot = Int(position & UInt64(Self.chunkSize - 1))
        if chunks[key] == nil { chunks[key] = [UInt64](repeating: 0, count: Self.chunkSize) }
        if chunks[key]![slot] & Entry.present == 0 { count += 1 }
        chunks[key]![slot] = entry.raw
    }

    /// Forgets every position below `begin`.
    mutating func removeBelow(_ begin: Position) {
        let firstKept = begin >> UInt64(Self.chunkShift)
        for key in chunks.keys where key < firstKept {
            count -= chunks[key]!.reduce(0) { $0 + ($1 & Entry.present != 0 ? 1 : 0) }
            chunks[key] = nil
        }
        if chunks[firstKept] != nil {
            for slot in 0..<Int(begin & UInt64(Self.chunkSize - 1)) where chunks[firstKept]![slot] != 0 {
                count -= 1
                chunks[firstKept]![slot] = 0
            }
        }
    }

    /// Visits present positions of `range` in increasing order.
    func forEach(in range: ClosedRange<Position>, _ body: (Position, Entry) -> Void) {
        visit(in: range) { position, entry in
            body(position, entry)
            return true
        }
    }

    /// Visits present positions of `range` in increasing order while `body` returns true.
    func visit(in range: ClosedRange<Position>, _ body: (Position, Entry) -> Bool) {
        let firstKey = range.lowerBound >> UInt64(Self.chunkShift)
        let lastKey = range.upperBound >> UInt64(Self.chunkShift)
        let keys: [UInt64] =
            lastKey - firstKey >= UInt64(chunks.count)
            ? chunks.keys.filter { $0 >= firstKey && $0 <= lastKey }.sorted() : Array(firstKey...lastKey)
        for key in keys {
            guard let chunk = chunks[key] else { continue }
            let base = key << UInt64(Self.chunkShift)
            let from = max(range.lowerBound, base)
            let to = min(range.upperBound, base + UInt64(Self.chunkSize - 1))
            for position in from...to {
                let raw = chunk[Int(position - base)]
                if raw & Entry.present != 0 && !body(position, Entry(raw: raw)) { return }
            }
        }
    }

    /// Approximate memory held by the index.
    var memoryBytes: Int { chunks.count * (Self.chunkSize * 8 + 48) }
}
