import ReplogModel
public import ReplogWire

/// The entries of a range of the log, fetched a page at a time as the consumer asks for them.
///
/// Pull-based on purpose: a page is read only when the previous one has been consumed, so a slow
/// consumer slows the reads down instead of overflowing a buffer (which would lose entries), and
/// memory stays at one page.
public struct LogEntries: AsyncSequence, Sendable {
    public typealias Element = Entry

    let client: ReplogClient
    let from: Position
    let to: Position?
    let follow: Bool

    public func makeAsyncIterator() -> Iterator {
        Iterator(client: client, next: from, last: to ?? .max, follow: follow)
    }

    public struct Iterator: AsyncIteratorProtocol {
        let client: ReplogClient
        var next: Position
        let last: Position
        let follow: Bool
        var page: [Entry] = []
        var index = 0
        var finished = false

        /// The next entry; `nil` at the end of the range (or, when following, once the consuming
        /// task is cancelled).
        public mutating func next() async throws -> Entry? {
            while index == page.count {
                guard !finished, next <= last, !(follow && Task.isCancelled) else { return nil }
                let response = try await client.readPage(from: next, to: last)
                page = response.entries
                index = 0
                let caughtUp = response.next > response.end || response.next == next
                next = response.next
                guard caughtUp else { continue }
                if !follow {
                    finished = true
                } else if page.isEmpty {
                    do {
                        try await Task.sleep(for: client.configuration.tailPollInterval)
                    } catch {
                        return nil
                    }
                }
            }
            defer { index += 1 }
            return page[index]
        }
    }
}
