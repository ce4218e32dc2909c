import NIOCore
import ReplogModel
import ReplogWire

extension Coordinator {
    // MARK: Fill after election

    mutating func pumpFill(into out: inout [CoordinatorDirective]) {
        guard phase == .filling else { return }
        while fillSlots.count < configuration.fillWindow, !fillQueue.isEmpty {
            let position = fillQueue.removeFirst()
            if position <= learnedThrough || chosen[position] != nil { continue }
            let id = newRequestID()
            fillSlots[position] = FillSlot(promiseID: id, sentTick: now)
            requests[id] = position
            for replica in configuration.replicas {
                let request = PromiseRequest(proposal: proposal, position: position)
                out.append(.send(.request(.promiseRequest(request), id: id), to: replica))
            }
        }
        if fillSlots.isEmpty, fillQueue.isEmpty {
            advanceLearned(into: &out)
            phase = .leading
            failures = 0
            nextPosition = max(fillEnd, learnedThrough) + 1
            out.append(.leadership(leading: true, proposal: proposal))
            pumpWrites(into: &out)
        }
    }

    mutating func onFillPromise(
        _ response: PromiseResponse,
        position: Position,
        id: UInt64,
        incoming: Incoming,
        into out: inout [CoordinatorDirective]
    ) {
        guard phase == .filling, var slot = fillSlots[position], slot.promiseID == id, slot.value == nil else { return }
        switch response.result {
        case .reject:
            noteRejection(response.proposal, into: &out)
            return
        case .ignored:
            return
        case .accept:
            guard response.proposal == proposal else { return }
            slot.promises[incoming.from] = (incoming.session, response.action)
        }
        let answers = slot.promises.sorted { $0.key < $1.key }.compactMap(\.value.action)
        if let learned = answers.first(where: \.learned) {
            // Already chosen: just learn it.
            fillOrigins[position] = learned.performed
            finishFill(position, chosen: .learned(learned), into: &out)
            return
        }
        guard slot.promises.count >= configuration.quorum else {
            fillSlots[position] = slot
            return
        }
        let performed = slot.promises.values.compactMap(\.action).filter { $0.performed != nil }
        let latest = performed.max { ($0.performed ?? 0) < ($1.performed ?? 0) }
        let value = latest?.value ?? .nop(tombstone: false)
        fillOrigins[position] = latest?.performed
        let writeID = newRequestID()
        slot.value = value
        slot.writeID = writeID
        slot.sentTick = now
        slot.attempts = 1
        fillSlots[position] = slot
        requests[writeID] = position
        for replica in slot.promises.keys.sorted() {
            let write = WriteRequest(proposal: proposal, position: position, values: [value])
            out.append(.send(.request(.writeRequest(write), id: writeID), to: replica))
        }
    }

    mutating func onFillWrite(
        _ response: WriteResponse,
        position: Position,
        id: UInt64,
        incoming: Incoming,
        into out: inout [CoordinatorDirective]
    ) {
        guard phase == .filling, var slot = fillSlots[position], slot.writeID == id, let value = slot.value else {
            return
        }
        switch response.result {
        case .reject:
            noteRejection(response.proposal, into: &out)
            return
        case .ignored:
            return
        case .accept:
            guard response.proposal == proposal, slot.promises[incoming.from]?.session == incoming.session else {
                return
            }
            slot.acks.insert(incoming.from)
        }
        fillSlots[position] = slot
        if slot.acks.count >= configuration.quorum {
            _ = value
            finishFill(position, chosen: .written, into: &out)
        }
    }

    mutating func finishFill(_ position: Position, chosen value: Chosen, into out: inout [CoordinatorDirective]) {
        if let slot = fillSlots.removeValue(forKey: position) {
            requests[slot.promiseID] = nil
            requests[slot.writeID] = nil
        }
        chosen[position] = value
        advanceLearned(into: &out)
        pumpFill(into: &out)
    }

    mutating func retryFill(into out: inout [CoordinatorDirective]) {
        let retry = configuration.ticks(configuration.writeRetry)
        for position in fillSlots.keys.sorted() {
            guard var slot = fillSlots[position], now - slot.sentTick >= retry else { continue }
            if slot.attempts >= configuration.writeAttempts {
                let text = "no quorum answered while filling position \(position); re-electing"
                loseLeadership(ErrorReply(code: .unavailable, text: text), into: &out)
                return
            }
            slot.attempts += 1
            slot.sentTick = now
            if let value = slot.value {
                for replica in slot.promises.keys.sorted() where !slot.acks.contains(replica) {
                    let write = WriteRequest(proposal: proposal, position: position, values: [value])
                    out.append(.send(.request(.writeRequest(write), id: slot.writeID), to: replica))
                }
            } else {
                for replica in configuration.replicas where slot.promises[replica] == nil {
                    let request = PromiseRequest(proposal: proposal, position: position)
                    out.append(.send(.request(.promiseRequest(request), id: slot.promiseID), to: replica))
                }
            }
            fillSlots[position] = slot
        }
    }

    // MARK: Appends

    /// Sends the batches the queue and the in-flight limits allow; the first carries the held
    /// learned range, so that replicas learn it with no message of its own.
    mutating func pumpWrites(into out: inout [CoordinatorDirective]) {
        guard phase == .leading else { return }
        while batches.count < configuration.maxInFlightBatches, !queue.isEmpty {
            if batches.count >= configuration.maxInFlightPartialBatches, !queueFillsBatch() { return }
            var values: [ActionValue] = []
            var operations: [(id: OperationID, position: Position, count: Int, isTruncate: Bool)] = []
            var bytes = 0
            let first = nextPosition
            while let operation = queue.first {
                switch operation.kind {
                case .append(let entries):
                    let size = entries.reduce(0) { $0 + $1.readableBytes }
                    if !values.isEmpty,
                        values.count + entries.count > configuration.maxBatchEntries
                            || bytes + size > configuration.maxBatchBytes
                    {
                        break
                    }
                    queue.removeFirst()
                    operations.append((operation.id, first + Position(values.count), entries.count, false))
                    values.append(contentsOf: entries.map { .append($0) })
                    bytes += size
                    continue
                case .truncate(let target):
                    if !values.isEmpty, values.count >= configuration.maxBatchEntries { break }
                    queue.removeFirst()
                    let position = first + Position(values.count)
                    if target > position {
                        let text = "cannot truncate to \(target): the log ends before it (next position \(position))"
                        out.append(.complete(operation.id, .failure(ErrorReply(code: .invalidRequest, text: text))))
                        continue
                    }
                    operations.append((operation.id, position, 1, true))
                    values.append(.truncate(to: target))
                    continue
                }
                break
            }
            if values.isEmpty { continue }
            let id = newRequestID()
            nextPosition = first + Position(values.count)
            batches[id] = Batch(position: first, values: values, operations: operations, sentTick: now)
            let assignments = operations.map {
                Assignment(operation: $0.id, position: $0.position, count: UInt32($0.count))
            }
            out.append(.assigned(assignments, proposal: proposal))
            let write = WriteRequest(proposal: proposal, position: first, values: values, chosen: heldChosen)
            heldChosen = nil
            for replica in configuration.replicas {
                out.append(.send(.request(.writeRequest(write), id: id), to: replica))
            }
        }
    }

    /// Whether the operations waiting make a whole batch: one of at least `maxBatchEntries`
    /// entries or `maxBatchBytes` bytes.
    func queueFillsBatch() -> Bool {
        var entries = 0
        var bytes = 0
        for operation in queue {
            switch operation.kind {
            case .append(let values):
                entries += values.count
                for value in values { bytes += value.readableBytes }
            case .truncate:
                entries += 1
            }
            if entries >= configuration.maxBatchEntries || bytes >= configuration.maxBatchBytes { return true }
        }
        return false
    }

    mutating func onBatchResponse(
        _ response: WriteResponse,
        id: UInt64,
        incoming: Incoming,
        into out: inout [CoordinatorDirective]
    ) {
        guard phase == .leading, var batch = batches[id] else { return }
        switch response.result {
        case .reject:
            noteRejection(response.proposal, into: &out)
            return
        case .ignored:
            return
        case .accept:
            // Only the process lifetime that promised may vote for our writes.
            guard response.proposal == proposal, promisedSessions[incoming.from] == incoming.session else { return }
            batch.acks.insert(incoming.from)
        }
        batches[id] = batch
        guard batch.acks.count >= configuration.quorum, chosen[batch.position] == nil else { return }
        for offset in 0..<batch.values.count { chosen[batch.position + Position(offset)] = .written }
        advanceLearned(into: &out)
    }

    mutating func retryBatches(into out: inout [CoordinatorDirective]) {
        let retry = configuration.ticks(configuration.writeRetry)
        for id in batches.keys.sorted() {
            guard var batch = batches[id], batch.acks.count < configuration.quorum, now - batch.sentTick >= retry else {
                continue
            }
            if batch.attempts >= configuration.writeAttempts {
                let text = "no quorum accepted the write at position \(batch.position); re-electing"
                loseLeadership(ErrorReply(code: .unavailable, text: text), into: &out)
                return
            }
            batch.attempts += 1
            batch.sentTick = now
            batches[id] = batch
            let write = WriteRequest(proposal: proposal, position: batch.position, values: batch.values)
            for replica in configuration.replicas where !batch.acks.contains(replica) {
                if promisedSessions[replica] == nil {
                    // Its acceptance would not count without its promise: ask for that first.
                    let promise = PromiseRequest(proposal: proposal)
                    out.append(.send(.request(.promiseRequest(promise), id: termRequestID), to: replica))
                }
                out.append(.send(.request(.writeRequest(write), id: id), to: replica))
            }
        }
    }

    /// Learns chosen positions in order: broadcasts learned messages and completes operations.
    mutating func advanceLearned(into out: inout [CoordinatorDirective]) {
        var rangeStart: Position?
        var ranges: [LearnedRange] = []
        var fullActions: [Action] = []
        let start = learnedThrough
        while let value = chosen[learnedThrough + 1] {
            learnedThrough += 1
            chosen[learnedThrough] = nil
            switch value {
            case .written:
                if rangeStart == nil { rangeStart = learnedThrough }
            case .learned(let action):
                closeRange(&rangeStart, through: learnedThrough - 1, into: &ranges)
                fullActions.append(action)
            }
        }
        guard learnedThrough > start else { return }
        closeRange(&rangeStart, through: learnedThrough, into: &ranges)
        if !fullActions.isEmpty {
            for replica in configuration.replicas {
                out.append(.send(.request(.learned(Learned(actions: fullActions)), id: newRequestID()), to: replica))
            }
        }
        // Complete the batches that are now entirely learned, in position order.
        var completions: [CoordinatorDirective] = []
        for id in batches.keys.sorted(by: { batches[$0]!.position < batches[$1]!.position }) {
            guard let batch = batches[id], batch.position + Position(batch.values.count) - 1 <= learnedThrough else {
                continue
            }
            batches[id] = nil
            for operation in batch.operations {
                let result: OperationResult =
                    operation.isTruncate
                    ? .truncated(position: operation.position)
                    : .appended(position: operation.position, count: UInt32(operation.count))
                completions.append(.complete(operation.id, .success(result)))
            }
        }
        hold(ranges, into: &out)
        // The next write goes out before the answers: the replicas' round trip then overlaps
        // with answering the clients, instead of following it.
        pumpWrites(into: &out)
        out.append(contentsOf: completions)
        if heldChosen != nil, !chosenFlushScheduled {
            chosenFlushScheduled = true
            schedule(.chosenHold, after: configuration.chosenHold, into: &out)
        }
    }

    /// Adds `ranges` to the held learned range; what cannot join it (another proposal, a gap)
    /// is broadcast at once.
    mutating func hold(_ ranges: [LearnedRange], into out: inout [CoordinatorDirective]) {
        for range in ranges {
            if var held = heldChosen, held.proposal == range.proposal,
                held.position + Position(held.count) == range.position,
                UInt64(held.count) + UInt64(range.count) <= UInt64(UInt32.max)
            {
                held.count += range.count
                heldChosen = held
            } else {
                broadcastHeldChosen(into: &out)
                heldChosen = range
            }
        }
    }

    /// Sends the held learned range to every replica.
    mutating func broadcastHeldChosen(into out: inout [CoordinatorDirective]) {
        guard let range = heldChosen else { return }
        heldChosen = nil
        for replica in configuration.replicas {
            out.append(.send(.request(.learnedRange(range), id: newRequestID()), to: replica))
        }
    }

    /// Sends the held learned range now: called before a read is served from the replicas, so
    /// that a reader finds every position this coordinator answered as appended.
    public mutating func releaseChosen() -> [CoordinatorDirective] {
        var out: [CoordinatorDirective] = []
        broadcastHeldChosen(into: &out)
        return out
    }

    mutating func closeRange(_ start: inout Position?, through last: Position, into ranges: inout [LearnedRange]) {
        guard let first = start, last >= first else { return }
        start = nil
        ranges.append(LearnedRange(proposal: proposal, position: first, count: UInt32(clamping: last - first + 1)))
    }
}
