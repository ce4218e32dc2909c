public import ReplogConsensus
public import ReplogModel
public import ReplogWire

/// The decisions of `replog recovery commit`: replace the log's content with the staged entries
/// in one step as clients see it, without moving any position backwards.
///
/// Client writes are already refused while a backup is staged. An *attempt* then:
///
/// 1. waits until this coordinator leads and no operation is in flight, and notes the log's end
///    `E` (once, on the first attempt: readers are held at `E` from then until the commit
///    finishes, so they see the old log and nothing written after it);
/// 2. writes a *fence*, a `TRUNCATE(0)` that removes nothing, at `P > E`;
/// 3. appends the staged entries through ordinary quorum writes at `P+1 ... P+N`, several
///    batches in flight;
/// 4. checks that fence and entries landed contiguously, then truncates the log below `P+1`
///    (the TRUNCATE lands at `P+N+1`).
///
/// When that truncation is learned the commit is finished: the shell stops holding readers, and
/// one that resumes from any old position (`P` included, which is why the fence exists) is told
/// "truncated, restart from `P+1`". A reader therefore sees the old log or the new one, never a
/// mix. Any failure (leadership lost, no quorum, positions not contiguous) abandons the attempt;
/// the next one starts again after the current end, and its truncation removes whatever the
/// failed one wrote. After ``Configuration/maxAttempts`` the commit stops; readers stay held,
/// because a failed attempt's entries may be in the log past `E`, until a new commit finishes.
///
/// Pure: the shell reports how the coordinator stands (``View``), completions and the time, and
/// carries out the ``Directive``s.
public struct RecoveryCommit: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// Entries per append (the core writes one append per write request).
        public var batchEntries = 64
        /// About the most entry bytes per append; a larger entry goes alone.
        public var batchBytes = 1 << 20
        /// Appends in flight at once.
        public var window = 16
        /// How long an attempt may wait for leadership and for operations in flight to finish.
        public var settleTimeout: Duration = .seconds(30)
        /// The pause before an attempt that follows a failed one.
        public var retryDelay: Duration = .milliseconds(500)
        public var maxAttempts = 5
        /// How often the shell is asked to report while the commit waits.
        public var pollInterval: Duration = .milliseconds(50)

        public init() {}
    }

    /// How the coordinator stands, as the shell sees it when asked.
    public struct View: Sendable, Hashable {
        public var leading: Bool
        /// Client and commit operations accepted and not completed.
        public var outstanding: Int
        /// The highest position learned, in order.
        public var learnedThrough: Position

        public init(leading: Bool, outstanding: Int, learnedThrough: Position) {
            self.leading = leading
            self.outstanding = outstanding
            self.learnedThrough = learnedThrough
        }
    }

    /// One write of an attempt.
    public enum Step: Sendable, Hashable {
        case fence(attempt: Int)
        case batch(attempt: Int, index: Int)
        case truncate(attempt: Int)

        public var attempt: Int {
            switch self {
            case .fence(let attempt), .batch(let attempt, _), .truncate(let attempt): attempt
            }
        }
    }

    public enum Directive: Sendable, Hashable {
        /// Serve reads only up to `position` until the commit finishes, and persist it: a restart
        /// must keep holding readers there.
        case holdReads(at: Position)
        /// Enqueue `TRUNCATE(0)` (it removes nothing; it takes a position).
        case writeFence(Step)
        /// Enqueue one append of the staged entries at these indices.
        case append(Step, entries: Range<Int>)
        /// Enqueue `TRUNCATE(to)`.
        case truncate(Step, to: Position)
        /// Report again (``tick(now:view:)``) after this long.
        case wake(after: Duration)
        /// Done: the log holds the staged entries at `restartFrom ... last` and nothing before.
        case finished(restartFrom: Position, last: Position)
        /// Given up; see ``readCap`` for whether readers must stay held.
        case stopped(reason: String)
    }

    enum Phase: Sendable, Hashable {
        /// Waiting for leadership and an idle pipeline, from `since`; not before `notBefore`.
        case settling(since: Duration, notBefore: Duration)
        case writing
        case truncating(fence: Position)
        case finished
        case stopped
    }

    public let configuration: Configuration
    /// The staged entries' index ranges, one per append.
    public let batches: [Range<Int>]
    let entryCount: Int
    var phase: Phase
    /// The log's end before the first attempt; readers are held there. Set from the start when a
    /// persisted, interrupted commit is run again.
    public private(set) var readCap: Position?
    public private(set) var attempts = 0
    /// Entries the current attempt has written.
    public private(set) var written = 0
    var fence: Position?
    var nextBatch = 0
    var inFlight = 0
    var landed: [Int: Position] = [:]
    var lastFailure = ""

    /// - Parameters:
    ///   - entrySizes: the byte size of each staged entry, in order.
    ///   - readCap: the hold of an earlier, interrupted commit of the same stage.
    public init(entrySizes: [Int], readCap: Position?, configuration: Configuration = Configuration(), now: Duration) {
        self.configuration = configuration
        self.readCap = readCap
        entryCount = entrySizes.count
        var batches: [Range<Int>] = []
        var start = 0
        var bytes = 0
        for (index, size) in entrySizes.enumerated() {
            if index > start && (index - start >= configuration.batchEntries || bytes + size > configuration.batchBytes)
            {
                batches.append(start..<index)
                start = index
                bytes = 0
            }
            bytes += size
        }
        if start < entrySizes.count { batches.append(start..<entrySizes.count) }
        self.batches = batches
        phase = .settling(since: now, notBefore: now)
    }

    /// Whether the commit is over (finished or stopped).
    public var isOver: Bool { phase == .finished || phase == .stopped }

    // MARK: Events

    /// The shell's report: starts an attempt when the coordinator is ready for one.
    public mutating func tick(now: Duration, view: View) -> [Directive] {
        guard case .settling(let since, let notBefore) = phase else { return [] }
        if now < notBefore { return [.wake(after: notBefore - now)] }
        guard view.leading, view.outstanding == 0 else {
            if now - since >= configuration.settleTimeout {
                let waitingFor =
                    view.leading
                    ? "\(view.outstanding) operations still in flight"
                    : "this coordinator does not lead (no quorum of replicas?)"
                return stop("waited \(configuration.settleTimeout) for an attempt to start: \(waitingFor)")
            }
            return [.wake(after: configuration.pollInterval)]
        }
        return beginAttempt(view)
    }

    /// A write of an attempt completed.
    public mutating func completed(_ step: Step, _ result: Result<OperationResult, ErrorReply>, now: Duration)
        -> [Directive]
    {
        guard step.attempt == attempts else { return [] }
        switch phase {
        case .writing, .truncating: break
        default: return []
        }
        let outcome: OperationResult
        switch result {
        case .failure(let reply): return abandon("\(step) failed: \(reply.text)", now: now)
        case .success(let value): outcome = value
        }
        switch (step, outcome) {
        case (.fence, .truncated(let position)):
            fence = position
            return afterWrite(now: now)
        case (.batch(_, let index), .appended(let position, let count)) where Int(count) == batches[index].count:
            landed[index] = position
            written += Int(count)
            inFlight -= 1
            return pump() + afterWrite(now: now)
        case (.truncate, .truncated(let position)):
            guard case .truncating(let fence) = phase else { return [] }
            guard position == fence + UInt64(entryCount) + 1 else {
                return abandon(
                    "the truncation landed at \(position), not right after the entries at \(fence + 1)",
                    now: now
                )
            }
            phase = .finished
            return [.finished(restartFrom: fence + 1, last: fence + UInt64(entryCount))]
        default:
            return abandon("\(step) completed unexpectedly with \(outcome)", now: now)
        }
    }

    // MARK: Attempts

    mutating func beginAttempt(_ view: View) -> [Directive] {
        var out: [Directive] = []
        if readCap == nil {
            readCap = view.learnedThrough
            out.append(.holdReads(at: view.learnedThrough))
        }
        attempts += 1
        written = 0
        fence = nil
        nextBatch = 0
        inFlight = 0
        landed = [:]
        phase = .writing
        out.append(.writeFence(.fence(attempt: attempts)))
        return out + pump()
    }

    mutating func pump() -> [Directive] {
        var out: [Directive] = []
        while phase == .writing, inFlight < configuration.window, nextBatch < batches.count {
            out.append(.append(.batch(attempt: attempts, index: nextBatch), entries: batches[nextBatch]))
            nextBatch += 1
            inFlight += 1
        }
        return out
    }

    /// Once the fence and every batch landed: check they are contiguous, then truncate.
    mutating func afterWrite(now: Duration) -> [Directive] {
        guard phase == .writing, let fence, landed.count == batches.count else { return [] }
        var expected = fence + 1
        for (index, batch) in batches.enumerated() {
            guard landed[index] == expected else {
                return abandon(
                    "entries \(batch) landed at \(landed[index] ?? 0), not at \(expected): another writer?",
                    now: now
                )
            }
            expected += UInt64(batch.count)
        }
        phase = .truncating(fence: fence)
        return [.truncate(.truncate(attempt: attempts), to: fence + 1)]
    }

    mutating func abandon(_ reason: String, now: Duration) -> [Directive] {
        lastFailure = reason
        guard attempts < configuration.maxAttempts else {
            return stop("attempt \(attempts) of \(configuration.maxAttempts) failed: \(reason)")
        }
        let resume = now + configuration.retryDelay
        phase = .settling(since: resume, notBefore: resume)
        return [.wake(after: configuration.retryDelay)]
    }

    mutating func stop(_ reason: String) -> [Directive] {
        phase = .stopped
        let last = lastFailure.isEmpty || reason.contains(lastFailure) ? "" : " (last failure: \(lastFailure))"
        return [.stopped(reason: reason + last)]
    }
}
