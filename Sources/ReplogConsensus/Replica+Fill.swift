import ReplogModel
import ReplogWire

/// Filling positions that no peer has learned, during recovery: an explicit promise, then a write
/// of the value a promise revealed (or a NOP), then a learned broadcast. Mesos's `fill`.
struct FillState: Sendable {
    struct Slot: Sendable {
        var promiseID: UInt64
        var writeID: UInt64 = 0
        var promises: [NodeID: (session: UInt64, response: PromiseResponse)] = [:]
        var value: ActionValue?
        var acks: Set<NodeID> = []
        var tick: UInt64
    }
    var proposal: Proposal
    var highestSeen: Proposal
    var peers: [NodeID]
    var queue: [Position]
    var slots: [Position: Slot] = [:]
    var requests: [UInt64: Position] = [:]
    var backingOff = false
    var tick: UInt64 = 0
    /// Recovery waits for this fill before the replica may vote; a VOTING replica just fills holes.
    var forRecovery: Bool
}

extension Replica {
    mutating func startFill(
        positions: [Position],
        peers: [NodeID],
        forRecovery: Bool,
        store: some ReplicaStoreReading,
        into out: inout [ReplicaDirective]
    ) {
        let floor = max(metadata.promised, fill?.highestSeen ?? 0)
        fill = FillState(
            proposal: ProposalNumbers.next(above: floor, proposer: configuration.proposerID),
            highestSeen: floor,
            peers: peers,
            queue: positions,
            forRecovery: forRecovery
        )
        schedule(.fill, after: configuration.catchupTimeout, into: &out)
        pumpFill(store: store, into: &out)
    }

    mutating func pumpFill(store: some ReplicaStoreReading, into out: inout [ReplicaDirective]) {
        guard var state = fill, !state.backingOff else { return }
        while state.slots.count < configuration.fillWindow, !state.queue.isEmpty {
            let position = state.queue.removeFirst()
            if position <= learnedThrough || store.action(at: position)?.learned == true { continue }
            let id = newRequestID()
            state.slots[position] = FillState.Slot(promiseID: id, tick: state.tick)
            state.requests[id] = position
            for peer in state.peers {
                request(
                    .promiseRequest(PromiseRequest(proposal: state.proposal, position: position)),
                    to: peer,
                    id: id,
                    into: &out
                )
            }
        }
        fill = state
        if state.slots.isEmpty, state.queue.isEmpty {
            fill = nil
            cancel(.fill)
            if state.forRecovery { finishRecovery(into: &out) }
        }
    }

    /// A higher proposal is about: stop, back off for a random while, and retry above it.
    mutating func abortFill(higher: Proposal, into out: inout [ReplicaDirective]) {
        guard var state = fill else { return }
        state.highestSeen = max(state.highestSeen, higher)
        state.queue = state.slots.keys.sorted() + state.queue
        state.slots = [:]
        state.requests = [:]
        state.backingOff = true
        fill = state
        schedule(.fill, after: randomDelay(configuration.fillBackoff), into: &out)
    }

    mutating func onFillPromiseResponse(
        _ response: PromiseResponse,
        id: UInt64,
        from: NodeID,
        session: UInt64,
        store: some ReplicaStoreReading,
        into out: inout [ReplicaDirective]
    ) {
        guard var state = fill, let position = state.requests[id], var slot = state.slots[position],
            slot.promiseID == id, slot.value == nil
        else { return }
        switch response.result {
        case .reject:
            abortFill(higher: response.proposal, into: &out)
            return
        case .ignored:
            return
        case .accept:
            slot.promises[from] = (session, response)
        }
        let answers = slot.promises.sorted { $0.key < $1.key }.compactMap { $0.value.response.action }
        if let learned = answers.first(where: { $0.learned }) {
            storeLearned([learned], store: store, into: &out)
            state.slots[position] = nil
            state.requests[id] = nil
            fill = state
            pumpFill(store: store, into: &out)
            return
        }
        guard slot.promises.count >= configuration.quorum else {
            state.slots[position] = slot
            fill = state
            return
        }
        // The value with the highest performed proposal may have been chosen: write it again.
        let performed = slot.promises.values.compactMap { $0.response.action }.filter { $0.performed != nil }
        let value = performed.max { ($0.performed ?? 0) < ($1.performed ?? 0) }?.value ?? .nop(tombstone: false)
        let writeID = newRequestID()
        slot.value = value
        slot.writeID = writeID
        slot.tick = state.tick
        state.requests[writeID] = position
        state.slots[position] = slot
        fill = state
        for peer in slot.promises.keys.sorted() {
            let write = WriteRequest(proposal: state.proposal, position: position, values: [value])
            request(.writeRequest(write), to: peer, id: writeID, into: &out)
        }
    }

    mutating func onFillWriteResponse(
        _ response: WriteResponse,
        id: UInt64,
        from: NodeID,
        session: UInt64,
        store: some ReplicaStoreReading,
        into out: inout [ReplicaDirective]
    ) {
        guard var state = fill, let position = state.requests[id], var slot = state.slots[position],
            slot.writeID == id, let value = slot.value
        else { return }
        switch response.result {
        case .reject:
            abortFill(higher: response.proposal, into: &out)
            return
        case .ignored:
            return
        case .accept:
            // Only an acceptance from the same process lifetime that promised counts.
            guard slot.promises[from]?.session == session else { return }
            slot.acks.insert(from)
        }
        guard slot.acks.count >= configuration.quorum else {
            state.slots[position] = slot
            fill = state
            return
        }
        let chosen = Action.learned(value, at: position, proposal: state.proposal)
        storeLearned([chosen], store: store, into: &out)
        for peer in state.peers {
            request(.learned(Learned(actions: [chosen])), to: peer, id: newRequestID(), into: &out)
        }
        state.slots[position] = nil
        state.requests[slot.promiseID] = nil
        state.requests[id] = nil
        fill = state
        pumpFill(store: store, into: &out)
    }

    mutating func onFillTimer(store: some ReplicaStoreReading, into out: inout [ReplicaDirective]) {
        guard var state = fill else { return }
        if state.backingOff {
            state.backingOff = false
            state.proposal = ProposalNumbers.next(above: state.highestSeen, proposer: configuration.proposerID)
        } else {
            state.tick += 1
            // Slots without progress for a whole timeout start over (the same proposal may promise again).
            let stale = state.slots.filter { $0.value.tick + 1 < state.tick }.map(\.key).sorted()
            for position in stale {
                if let slot = state.slots.removeValue(forKey: position) {
                    state.requests[slot.promiseID] = nil
                    state.requests[slot.writeID] = nil
                }
                state.queue.insert(position, at: 0)
            }
        }
        fill = state
        schedule(.fill, after: configuration.catchupTimeout, into: &out)
        pumpFill(store: store, into: &out)
    }
}
