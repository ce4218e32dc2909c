import ReplogModel
import ReplogWire

/// The most actions one catch-up response carries, whatever the byte budget.
let catchupResponseMaxActions: UInt64 = 1024

extension Replica {
    func invalid(_ text: String) -> Message {
        .error(ErrorReply(code: .invalidRequest, text: text))
    }

    mutating func onPromise(
        _ request: PromiseRequest,
        id: UInt64,
        from: NodeID,
        store: some ReplicaStoreReading,
        into out: inout [ReplicaDirective]
    ) {
        guard metadata.status == .voting else {
            let response = PromiseResponse(
                result: .ignored,
                proposal: request.proposal,
                position: request.position ?? 0
            )
            reply(.promiseResponse(response), id: id, to: from, into: &out)
            return
        }
        guard let position = request.position else {
            // Implicit promise: strictly above every earlier implicit promise, so two proposers
            // can never both hold an implicit promise with the same number.
            let end = store.end
            if request.proposal <= metadata.promised {
                let response = PromiseResponse(result: .reject, proposal: metadata.promised, position: end)
                reply(.promiseResponse(response), id: id, to: from, into: &out)
                return
            }
            persistMetadata(ReplicaMetadata(status: metadata.status, promised: request.proposal), into: &out)
            let response = PromiseResponse(result: .accept, proposal: request.proposal, position: end)
            reply(.promiseResponse(response), id: id, to: from, into: &out)
            return
        }
        guard position > 0 else {
            reply(invalid("position 0 holds no entry; promise positions start at 1"), id: id, to: from, into: &out)
            return
        }
        if position < store.begin {
            let response = PromiseResponse(
                result: .accept,
                proposal: request.proposal,
                position: position,
                action: .tombstone(at: position)
            )
            reply(.promiseResponse(response), id: id, to: from, into: &out)
            return
        }
        let existing = store.action(at: position)
        if let existing, existing.learned {
            let response = PromiseResponse(
                result: .accept,
                proposal: request.proposal,
                position: position,
                action: existing
            )
            reply(.promiseResponse(response), id: id, to: from, into: &out)
            return
        }
        // Explicit promise: an equal proposal is accepted, because the proposer that won the
        // implicit promise fills holes with that same proposal.
        let effective = max(metadata.promised, existing?.promised ?? 0)
        if request.proposal < effective {
            let response = PromiseResponse(result: .reject, proposal: effective, position: position)
            reply(.promiseResponse(response), id: id, to: from, into: &out)
            return
        }
        var updated = existing ?? Action(position: position, promised: request.proposal)
        updated.promised = request.proposal
        persist([.actions([updated])], into: &out)
        let response = PromiseResponse(
            result: .accept,
            proposal: request.proposal,
            position: position,
            action: updated.performed == nil ? nil : updated
        )
        reply(.promiseResponse(response), id: id, to: from, into: &out)
    }

    mutating func onWrite(
        _ request: WriteRequest,
        id: UInt64,
        from: NodeID,
        store: some ReplicaStoreReading,
        into out: inout [ReplicaDirective]
    ) {
        let count = UInt32(clamping: request.values.count)
        guard metadata.status == .voting else {
            let response = WriteResponse(
                result: .ignored,
                proposal: request.proposal,
                position: request.position,
                count: count
            )
            reply(.writeResponse(response), id: id, to: from, into: &out)
            return
        }
        guard request.position > 0, !request.values.isEmpty,
            request.position <= Position.max - Position(request.values.count)
        else {
            reply(invalid("a write needs at least one value and positions from 1 up"), id: id, to: from, into: &out)
            return
        }
        let begin = store.begin
        var writes: [Action] = []
        var higher: Proposal = 0
        for (offset, value) in request.values.enumerated() {
            let position = request.position + Position(offset)
            if position < begin { continue }
            let existing = store.action(at: position)
            if existing?.learned == true { continue }
            let effective = max(metadata.promised, existing?.promised ?? 0)
            if request.proposal < effective {
                higher = max(higher, effective)
                continue
            }
            writes.append(
                Action(
                    position: position,
                    promised: request.proposal,
                    performed: request.proposal,
                    learned: request.learned,
                    value: value
                )
            )
        }
        if higher > 0 {
            let response = WriteResponse(result: .reject, proposal: higher, position: request.position, count: count)
            reply(.writeResponse(response), id: id, to: from, into: &out)
            return
        }
        if writes.isEmpty {
            let response = WriteResponse(
                result: .ignored,
                proposal: request.proposal,
                position: request.position,
                count: count
            )
            reply(.writeResponse(response), id: id, to: from, into: &out)
            return
        }
        persist([.actions(writes)], into: &out)
        if request.learned, let last = writes.last { knownChosen = max(knownChosen, last.position) }
        let response = WriteResponse(
            result: .accept,
            proposal: request.proposal,
            position: request.position,
            count: count
        )
        reply(.writeResponse(response), id: id, to: from, into: &out)
    }

    mutating func onLearned(_ learned: Learned, store: some ReplicaStoreReading, into out: inout [ReplicaDirective]) {
        guard metadata.status == .voting || metadata.status == .recovering else { return }
        storeLearned(learned.actions, store: store, into: &out)
    }

    /// Stores the learned actions this replica has not learned yet; refuses inconsistent ones.
    mutating func storeLearned(_ actions: [Action], store: some ReplicaStoreReading, into out: inout [ReplicaDirective])
    {
        let begin = store.begin
        var writes: [Action] = []
        for action in actions where action.learned && action.inconsistency == nil && action.position > 0 {
            knownChosen = max(knownChosen, action.position)
            if action.position < begin { continue }
            if store.action(at: action.position)?.learned == true { continue }
            if case .nop(tombstone: true) = action.value { continue }
            var stored = action
            stored.promised = max(action.promised, store.action(at: action.position)?.promised ?? 0)
            writes.append(stored)
        }
        if !writes.isEmpty { persist([.actions(writes)], into: &out) }
    }

    mutating func onLearnedRange(
        _ range: LearnedRange,
        store: some ReplicaStoreReading,
        into out: inout [ReplicaDirective]
    ) {
        guard metadata.status == .voting || metadata.status == .recovering, range.count > 0, range.position > 0 else {
            return
        }
        let (sum, overflow) = range.position.addingReportingOverflow(Position(range.count) - 1)
        guard !overflow else { return }
        let last = sum
        knownChosen = max(knownChosen, last)
        // Only positions this replica holds can become learned here (a bogus count costs nothing).
        let upper = min(last, store.end)
        let lower = max(range.position, store.begin)
        guard lower <= upper else { return }
        // Runs of positions that hold the chosen value and are not learned yet: each becomes one
        // small learned record, however large the values are.
        var records: [StoreRecord] = []
        var run: Position?
        func close(through last: Position) {
            guard let first = run else { return }
            records.append(.learned(first: first, count: last - first + 1, proposal: range.proposal))
            run = nil
        }
        for position in lower...upper {
            if let summary = store.summary(at: position), !summary.learned, summary.performed == range.proposal {
                if run == nil { run = position }
            } else {
                close(through: position - 1)
            }
        }
        close(through: upper)
        if !records.isEmpty { persist(records, into: &out) }
    }

    mutating func onRecoverRequest(
        id: UInt64,
        from: NodeID,
        store: some ReplicaStoreReading,
        into out: inout [ReplicaDirective]
    ) {
        var range: ClosedRange<Position>?
        if metadata.status == .voting {
            let begin = store.begin
            range = begin...max(begin, store.end)
        }
        reply(.recoverResponse(RecoverResponse(status: metadata.status, range: range)), id: id, to: from, into: &out)
    }

    mutating func onCatchupRequest(
        _ request: CatchupRequest,
        id: UInt64,
        from: NodeID,
        store: some ReplicaStoreReading,
        into out: inout [ReplicaDirective]
    ) {
        guard request.from <= request.to else {
            reply(invalid("catch-up range \(request.from)...\(request.to) is empty"), id: id, to: from, into: &out)
            return
        }
        let begin = store.begin
        let end = store.end
        var actions: [Action] = []
        var bytes = 0
        var position = request.from
        var taken: UInt64 = 0
        while position <= request.to, taken < catchupResponseMaxActions {
            if position < begin {
                actions.append(.tombstone(at: position))
            } else if position > end {
                position = request.to
                if position == Position.max { break }
                position += 1
                break
            } else if let action = store.action(at: position), action.learned {
                let size = action.value?.byteCount ?? 0
                if !actions.isEmpty, bytes + size > Int(request.maxBytes) { break }
                bytes += size
                actions.append(action)
            }
            taken += 1
            if position == Position.max { break }
            position += 1
        }
        let response = CatchupResponse(begin: begin, end: end, next: position, actions: actions)
        reply(.catchupResponse(response), id: id, to: from, into: &out)
    }
}
