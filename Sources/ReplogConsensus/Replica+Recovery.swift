import ReplogModel
import ReplogWire

/// One round of the recover protocol: a broadcast RecoverRequest and the answers to it.
struct RecoveryRound: Sendable {
    var requestID: UInt64
    var responses: [NodeID: RecoverResponse] = [:]
    /// The round decided to catch up; it waits for that now.
    var catchingUp = false
}

/// Before catching up, a recovering replica fences older proposals: it makes a quorum of VOTING
/// peers promise a proposal above theirs. A disk wipe may have destroyed acceptances this replica
/// gave before; after the fence no older proposal can complete a quorum with them, and the ends
/// the fence quorum reports cover every value accepted before it, so the catch-up range does too.
struct Fence: Sendable {
    var requestID: UInt64
    var proposal: Proposal
    var highestSeen: Proposal
    var peers: [NodeID]
    var begin: Position
    var end: Position
    var ends: [NodeID: Position] = [:]
}

extension Replica {
    mutating func startRecoveryRound(store: some ReplicaStoreReading, into out: inout [ReplicaDirective]) {
        guard metadata.status != .voting else { return }
        let id = newRequestID()
        recovery = RecoveryRound(requestID: id)
        for peer in configuration.peers {
            request(.recoverRequest(RecoverRequest()), to: peer, id: id, into: &out)
        }
        schedule(.recovery, after: configuration.recoveryRoundTimeout, into: &out)
        decideRecovery(final: false, store: store, into: &out)
    }

    mutating func onRecoverResponse(
        _ response: RecoverResponse,
        id: UInt64,
        from: NodeID,
        store: some ReplicaStoreReading,
        into out: inout [ReplicaDirective]
    ) {
        guard var round = recovery, round.requestID == id, !round.catchingUp,
            configuration.peers.contains(from)
        else { return }
        round.responses[from] = response
        recovery = round
        decideRecovery(final: round.responses.count == configuration.peers.count, store: store, into: &out)
    }

    /// A round timed out, or a retry delay ended.
    mutating func onRecoveryTimer(store: some ReplicaStoreReading, into out: inout [ReplicaDirective]) {
        guard metadata.status != .voting else { return }
        if let round = recovery, !round.catchingUp {
            decideRecovery(final: true, store: store, into: &out)
        } else if recovery == nil {
            startRecoveryRound(store: store, into: &out)
        }
    }

    /// Applies the Mesos rules to the answers so far. `final` means no more answers will come in
    /// this round: without a decision, diagnose and retry after a random delay.
    mutating func decideRecovery(final: Bool, store: some ReplicaStoreReading, into out: inout [ReplicaDirective]) {
        guard let round = recovery else { return }
        var counts: [ReplicaStatus: Int] = [metadata.status: 1]
        for response in round.responses.values { counts[response.status, default: 0] += 1 }
        let size = configuration.replicas.count
        let voting = counts[.voting, default: 0]
        let empty = counts[.empty, default: 0]
        let starting = counts[.starting, default: 0]

        if voting >= configuration.quorum {
            var ranges = round.responses.values.filter { $0.status == .voting }.compactMap(\.range)
            if ranges.isEmpty { ranges = [0...0] }
            // The highest begin: below it a truncation was learned, so nothing there matters.
            let begin = max(1, ranges.map(\.lowerBound).max() ?? 1)
            let end = ranges.map(\.upperBound).max() ?? 0
            let sources = round.responses.filter { $0.value.status == .voting }.map(\.key).sorted()
            recovery?.catchingUp = true
            cancel(.recovery)
            if metadata.status != .recovering {
                persistMetadata(ReplicaMetadata(status: .recovering, promised: metadata.promised), into: &out)
            }
            startFence(begin: begin, end: end, peers: sources, into: &out)
            return
        }
        if configuration.autoInitialize {
            if metadata.status == .empty, empty + starting >= size {
                persistMetadata(ReplicaMetadata(status: .starting, promised: metadata.promised), into: &out)
                recovery = nil
                startRecoveryRound(store: store, into: &out)
                return
            }
            if metadata.status == .starting, starting + voting >= size {
                finishRecovery(into: &out)
                return
            }
        }
        guard final else { return }
        out.append(.diagnose(recoveryDiagnosis(counts: counts, answered: round.responses.count + 1)))
        recovery = nil
        schedule(.recovery, after: randomDelay(configuration.recoveryRetry), into: &out)
    }

    func recoveryDiagnosis(counts: [ReplicaStatus: Int], answered: Int) -> String {
        let size = configuration.replicas.count
        let voting = counts[.voting, default: 0]
        let empty = counts[.empty, default: 0]
        let starting = counts[.starting, default: 0]
        if voting == 0, empty + starting > 0 {
            if configuration.autoInitialize {
                return "\(empty + starting) of \(size) replicas are EMPTY or STARTING and \(size - answered) did not "
                    + "answer: auto-initialize needs all \(size) replicas reachable"
            }
            return "\(empty) of \(size) replicas are EMPTY: run `replog initialize` on every replica of a new cluster"
        }
        let noun = voting == 1 ? "replica" : "replicas"
        return "only \(voting) VOTING \(noun) reachable, need \(configuration.quorum) "
            + "(\(answered) of \(size) replicas answered); this replica stays \(metadata.status) and retries"
    }

    mutating func startFence(begin: Position, end: Position, peers: [NodeID], into out: inout [ReplicaDirective]) {
        let floor = max(metadata.promised, fence?.highestSeen ?? 0)
        let proposal = ProposalNumbers.next(above: floor, proposer: configuration.proposerID)
        let id = newRequestID()
        fence = Fence(requestID: id, proposal: proposal, highestSeen: floor, peers: peers, begin: begin, end: end)
        for peer in peers {
            request(.promiseRequest(PromiseRequest(proposal: proposal)), to: peer, id: id, into: &out)
        }
        schedule(.fence, after: configuration.catchupTimeout, into: &out)
    }

    mutating func onFenceResponse(
        _ response: PromiseResponse,
        from: NodeID,
        store: some ReplicaStoreReading,
        into out: inout [ReplicaDirective]
    ) {
        guard var state = fence else { return }
        switch response.result {
        case .reject:
            // Someone promised higher: retry above it after a short random pause.
            state.highestSeen = max(state.highestSeen, response.proposal)
            state.requestID = 0
            fence = state
            schedule(.fence, after: randomDelay(configuration.fillBackoff), into: &out)
            return
        case .ignored:
            return
        case .accept:
            guard response.proposal == state.proposal else { return }
            state.ends[from] = response.position
        }
        fence = state
        guard state.ends.count >= configuration.quorum else { return }
        fence = nil
        cancel(.fence)
        // This replica also stops accepting anything older than the fence once it votes.
        if state.proposal > metadata.promised {
            persistMetadata(ReplicaMetadata(status: metadata.status, promised: state.proposal), into: &out)
        }
        let end = max(state.end, state.ends.values.max() ?? 0)
        startCatchup(from: state.begin, to: end, peers: state.peers, purpose: .recovery, store: store, into: &out)
    }

    /// The fence got no quorum in time, or its back-off ended: try again above what was seen.
    mutating func onFenceTimer(into out: inout [ReplicaDirective]) {
        guard let state = fence else { return }
        fence = state
        startFence(begin: state.begin, end: state.end, peers: state.peers, into: &out)
    }

    /// Catch-up (and fill) covered everything the VOTING quorum had: this replica may vote.
    mutating func finishRecovery(into out: inout [ReplicaDirective]) {
        recovery = nil
        catchup = nil
        fill = nil
        fence = nil
        cancel(.fence)
        cancel(.recovery)
        cancel(.catchup)
        cancel(.fill)
        persistMetadata(ReplicaMetadata(status: .voting, promised: metadata.promised), into: &out)
    }
}
