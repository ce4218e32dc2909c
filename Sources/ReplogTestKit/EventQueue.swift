/// A min-heap of timed events; ties are broken by insertion order so runs are reproducible.
struct EventQueue<Event> {
    struct Item {
        var time: Int64
        var sequence: UInt64
        var event: Event
    }
    private(set) var items: [Item] = []
    private var sequence: UInt64 = 0

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }

    mutating func push(_ event: Event, at time: Int64) {
        sequence += 1
        items.append(Item(time: time, sequence: sequence, event: event))
        siftUp(items.count - 1)
    }

    mutating func pop() -> Item? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let item = items.removeLast()
        if !items.isEmpty { siftDown(0) }
        return item
    }

    /// Moves every event matching `predicate` that is due before `limit` to `time` (a clock jump).
    mutating func advance(where predicate: (Event) -> Bool, dueBefore limit: Int64, to time: Int64) {
        var changed = false
        for index in items.indices where items[index].time < limit && items[index].time > time {
            if predicate(items[index].event) {
                items[index].time = time
                changed = true
            }
        }
        guard changed else { return }
        for index in stride(from: items.count / 2, through: 0, by: -1) { siftDown(index) }
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        let x = items[a]
        let y = items[b]
        return x.time != y.time ? x.time < y.time : x.sequence < y.sequence
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            if !less(child, parent) { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = parent * 2 + 1
            if left >= items.count { return }
            var best = left
            if left + 1 < items.count, less(left + 1, left) { best = left + 1 }
            if !less(best, parent) { return }
            items.swapAt(best, parent)
            parent = best
        }
    }
}
