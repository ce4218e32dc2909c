import ReplogModel
import ReplogWire

/// Fetching learned actions from peers in batches, several requests in flight per peer.
struct Catchup: Sendable {
    enum Purpose: Sendable {
        /// A recovering replica: after the passes, fill what nobody learned, then vote.
        case recovery
        /// A VOTING replica that missed learned messages: ask again later for what is missing.
        case gap
    }
    struct Chunk: Sendable, Hashable {
        var from: Position
        var to: Position
    }
    struct Outstanding: Sendable {
        var chunk: Chunk
        var peer: NodeID
        var tick: UInt64
    }

    var purpose: Purpose
    var target: ClosedRange<Position>
    var peers: [NodeID]
    /// Chunks to ask again (first), then `cursor ... target.upperBound` still to be cut.
    var pending: [Chunk] = []
    var cursor: Position
    var outstanding: [UInt64: Outstanding] = [:]
    var missing: [Position] = []
    var pass = 1
    var tick: UInt64 = 0
    var nextPeer = 0
    /// Positions below this were truncated by a learned truncation a peer reported.
    var truncatedBelow: Position = 0
}

extension Replica {
    mutating func startCatchup(
        from: Position,
        to: Position,
        peers: [NodeID],
        purpose: Catchup.Purpose,
        store: some ReplicaStoreReading,
        into out: inout [ReplicaDirective]
    ) {
        var state = Catchup(purpose: purpose, target: from...max(from, to), peers: peers, cursor: from)
        state.nextPeer = Int(random.next() % UInt64(max(1, peers.count)))
        if to < from { state.cursor = Position.max }
        catchup = state
        schedule(.catchup, after: configuration.catchupTimeout, into: &out)
        pumpCatchup(store: store, into: &out)
    }

    /// The next chunk to ask for: one to ask again, or the next cut from the cursor. Chunks are
    /// cut lazily so that a huge range costs nothing until it is fetched.
    func nextChunk(_ state: inout Catchup) -> Catchup.Chunk? {
        if !state.pending.isEmpty { return state.pending.removeFirst() }
        guard state.cursor != Position.max, state.cursor <= state.target.upperBound else { return nil }
        let start = max(state.cursor, learnedThrough + 1)
        guard start <= state.target.upperBound else {
            state.cursor = Position.max
            return nil
        }
        let last = min(state.target.upperBound, start &+ max(1, configuration.catchupBatch) - 1)
        state.cursor = last == Position.max ? Position.max : last + 1
        return Catchup.Chunk(from: start, to: last)
    }

    func hasWork(_ state: Catchup) -> Bool {
        !state.pending.isEmpty || (state.cursor != Position.max && state.cursor <= state.target.upperBound)
    }

    /// Sends pending chunks while the window allows; completes the pass when nothing is left.
    mutating func pumpCatchup(store: some ReplicaStoreReading, into out: inout [ReplicaDirective]) {
        guard var state = catchup else { return }
        let window = max(1, state.peers.count * configuration.catchupWindowPerPeer)
        while state.outstanding.count < window, !state.peers.isEmpty, let chunk = nextChunk(&state) {
            if chunk.to <= learnedThrough { continue }
            let peer = state.peers[state.nextPeer % state.peers.count]
            state.nextPeer += 1
            let id = newRequestID()
            state.outstanding[id] = Catchup.Outstanding(chunk: chunk, peer: peer, tick: state.tick)
            let request = CatchupRequest(
                from: max(chunk.from, learnedThrough + 1),
                to: chunk.to,
                maxBytes: configuration.catchupMaxBytes
            )
            self.request(.catchupRequest(request), to: peer, id: id, into: &out)
        }
        catchup = state
        if !hasWork(state), state.outstanding.isEmpty {
            finishCatchupPass(store: store, into: &out)
        }
    }

    mutating func onCatchupResponse(
        _ response: CatchupResponse,
        id: UInt64,
        from: NodeID,
        store: some ReplicaStoreReading,
        into out: inout [ReplicaDirective]
    ) {
        guard var state = catchup, let outstanding = state.outstanding.removeValue(forKey: id) else { return }
        let chunk = outstanding.chunk
        storeLearned(response.actions, store: store, into: &out)
        state.truncatedBelow = max(state.truncatedBelow, response.begin)
        truncatedBelowHint = max(truncatedBelowHint, response.begin)
        let asked = max(chunk.from, learnedThrough + 1)
        let covered = response.next > asked ? min(chunk.to, response.next - 1) : asked - 1
        if covered >= asked {
            let present = Set(response.actions.map(\.position))
            for position in asked...covered
            where !present.contains(position) && position >= state.truncatedBelow
                && store.action(at: position)?.learned != true
            {
                state.missing.append(position)
            }
        }
        if covered < chunk.to {
            if response.next <= asked {
                // The peer made no progress (an empty answer): it has nothing here.
                for position in asked...chunk.to
                where position >= state.truncatedBelow && store.action(at: position)?.learned != true {
                    state.missing.append(position)
                }
            } else {
                state.pending.insert(Catchup.Chunk(from: covered + 1, to: chunk.to), at: 0)
            }
        }
        catchup = state
        pumpCatchup(store: store, into: &out)
    }

    /// Every so often: requests that got no answer are asked of the next peer.
    mutating func onCatchupTimer(store: some ReplicaStoreReading, into out: inout [ReplicaDirective]) {
        guard var state = catchup else { return }
        state.tick += 1
        // Sorted: dictionary order differs between processes, and a seed must replay exactly.
        for (id, outstanding) in state.outstanding.sorted(by: { $0.key < $1.key })
        where outstanding.tick + 1 < state.tick {
            state.outstanding[id] = nil
            state.pending.append(outstanding.chunk)
        }
        if !hasWork(state), state.outstanding.isEmpty, !state.missing.isEmpty {
            // A retry pass was waiting for this timer.
            let missing = state.missing.filter { $0 > learnedThrough && store.action(at: $0)?.learned != true }
            state.missing = []
            state.pass += 1
            state.pending = runs(of: missing)
        }
        catchup = state
        schedule(.catchup, after: configuration.catchupTimeout, into: &out)
        pumpCatchup(store: store, into: &out)
    }

    /// Groups sorted positions into chunks of consecutive positions.
    func runs(of positions: [Position]) -> [Catchup.Chunk] {
        var result: [Catchup.Chunk] = []
        for position in positions.sorted() {
            if var last = result.last, last.to &+ 1 == position, position - last.from < configuration.catchupBatch {
                last.to = position
                result[result.count - 1] = last
            } else {
                result.append(Catchup.Chunk(from: position, to: position))
            }
        }
        return result
    }

    mutating func finishCatchupPass(store: some ReplicaStoreReading, into out: inout [ReplicaDirective]) {
        guard var state = catchup else { return }
        let missing = Array(Set(state.missing.filter { $0 >= state.truncatedBelow && $0 > learnedThrough })).sorted()
        state.missing = missing
        if missing.isEmpty {
            catchup = nil
            cancel(.catchup)
            if state.purpose == .recovery {
                // Everything fetched is being persisted; the VOTING status is persisted after it.
                finishRecovery(into: &out)
            }
            return
        }
        if state.pass >= configuration.catchupPassesBeforeFill {
            // Nobody learned these (or their learned messages were lost): find the chosen value
            // with an explicit promise, write it again or a NOP, and broadcast it.
            catchup = nil
            cancel(.catchup)
            startFill(
                positions: missing,
                peers: state.peers,
                forRecovery: state.purpose == .recovery,
                store: store,
                into: &out
            )
        } else {
            // Learned messages may still be on their way: wait one timeout and ask again.
            catchup = state
        }
    }

    /// A VOTING replica that heard of chosen positions it has not learned catches up after a delay.
    mutating func scheduleGapCatchupIfNeeded(into out: inout [ReplicaDirective]) {
        guard metadata.status == .voting, catchup == nil, fill == nil, !gapScheduled, knownChosen >= gapStart else {
            return
        }
        gapScheduled = true
        schedule(.gap, after: configuration.gapDelay, into: &out)
    }

    mutating func startGapCatchup(store: some ReplicaStoreReading, into out: inout [ReplicaDirective]) {
        let from = gapStart
        guard metadata.status == .voting, catchup == nil, fill == nil, knownChosen >= from else { return }
        // The whole range at once (chunks are cut lazily): a truncation reported below may lie
        // anywhere up to the highest chosen position, and only fetching it moves `begin`.
        startCatchup(from: from, to: knownChosen, peers: configuration.peers, purpose: .gap, store: store, into: &out)
    }

    /// Where fetching missed positions starts: above what is learned, and not below a truncation a
    /// peer reported (the truncation itself lies at or above its target, so it is fetched too).
    var gapStart: Position {
        max(learnedThrough + 1, truncatedBelowHint)
    }
}
