import Logging
import NIOCore
public import ReplogConsensus
public import ReplogModel
import ReplogNet
public import ReplogWire

/// Several coordinators: the shell of ``LeaderWatch`` (who may elect when), redirects to the
/// leader, and the leader's ``LeaderProgress`` messages that let a successor answer retries of
/// appends the old leader wrote.
extension CoordinatorNode {
    /// The watch's clock: time since this node was created.
    var now: Duration { ContinuousClock.now - epoch }

    /// One step of the watch: poll the other coordinators, elect if it says so, and (while
    /// leading) tell the others that this one lives and how far the log is learned.
    func watchTick() {
        guard !stopped else { return }
        let phaseBefore = coordinator.phase
        for directive in watch.tick(now: now, phase: coordinator.phase) {
            switch directive {
            case .poll(let peer):
                poll(peer)
            case .elect:
                carryOut(coordinator.elect())
                if phaseBefore == .idle, coordinator.phase == .electing {
                    metrics.elections.increment()
                    electionsStarted += 1
                    logger.notice(
                        "no live leader: starting an election",
                        metadata: [
                            "paxos/proposal": "\(coordinator.proposal)", "failover/rank": "\(watch.rank(now: now))",
                        ]
                    )
                }
            }
        }
        if coordinator.isLeading { sendProgress([]) }
        noteLeaderChange()
        schedule(after: configuration.pollInterval) { node in await node.watchTick() }
    }

    private func poll(_ peer: NodeID) {
        guard let link = coordinatorLink(to: peer) else {
            watch.unreachable(peer, at: now)
            return
        }
        // An answer slower than half the failover timeout is as good as none.
        let timeout = TimeAmount.nanoseconds(configuration.failoverTimeout.nanoseconds / 2)
        Task { [weak self] in
            let answer = try? await link.request(.leaderRequest, timeout: timeout)
            await self?.polled(peer, answer)
        }
    }

    private func polled(_ peer: NodeID, _ answer: Message?) {
        guard !stopped else { return }
        guard case .leaderResponse(let response)? = answer else {
            watch.unreachable(peer, at: now)
            return
        }
        if response.leaderID == peer.wireName {
            watch.heard(from: peer, .leading(response.proposal), at: now)
        } else {
            watch.heard(from: peer, .following(leader: NodeID(wireName: response.leaderID)), at: now)
        }
        noteLeaderChange()
    }

    /// The leader's news: it lives, how far the log is learned, and which appends it placed where.
    func receiveProgress(_ progress: LeaderProgress, from sender: String) {
        guard !stopped, let peer = NodeID(wireName: sender), configuration.coordinators[peer] != nil else { return }
        watch.progress(from: peer, proposal: progress.proposal, at: now)
        ledger.confirm(learnedThrough: progress.learnedThrough, proposal: progress.proposal)
        ledger.record(progress.assignments, proposal: progress.proposal)
        coordinator.noteLearned(through: progress.learnedThrough)
        metrics.learnedPosition.record(Int64(clamping: coordinator.learnedThrough))
        noteLeaderChange()
    }

    /// A replica refused this coordinator for a higher proposal: its maker is alive and leads, or
    /// is about to.
    func noteRejections() {
        let seen = coordinator.highestSeenProposal
        guard seen > rejectionsSeen else { return }
        rejectionsSeen = seen
        if seen > coordinator.proposal {
            watch.rejected(by: seen, at: now)
            noteLeaderChange()
        }
    }

    // MARK: Answering clients

    /// Why this coordinator cannot take a client's append or truncation now, or `nil` if it can.
    func refusal() -> ErrorReply? {
        if draining {
            return ErrorReply(code: .unavailable, text: "this coordinator is stopping; retry with another one")
        }
        if coordinator.isLeading { return nil }
        if coordinator.phase == .electing || coordinator.phase == .filling {
            return ErrorReply(code: .unavailable, text: "this coordinator is taking over leadership; retry shortly")
        }
        if let leader = watch.leader(now: now, phase: coordinator.phase), leader != configuration.id,
            let address = configuration.coordinators[leader]
        {
            return ErrorReply(
                code: .notLeader,
                hint: "\(address)",
                text: "coordinator \(leader.rawValue) leads; ask it at \(address)"
            )
        }
        return ErrorReply(
            code: .notLeader,
            text: "no coordinator is known to lead right now (an election is due); retry with the others"
        )
    }

    /// `reply` with the leader's address as its hint, when it says this coordinator does not lead
    /// (for example because it just lost leadership) and another one is known to.
    func withLeaderHint(_ reply: ErrorReply) -> ErrorReply {
        guard reply.code == .notLeader, reply.hint.isEmpty,
            let leader = watch.leader(now: now, phase: coordinator.phase), leader != configuration.id,
            let address = configuration.coordinators[leader]
        else { return reply }
        var hinted = reply
        hinted.hint = "\(address)"
        return hinted
    }

    /// Who leads, for `LeaderRequest` and status answers.
    func leader() -> LeaderResponse {
        let phase = coordinator.phase
        guard let leader = watch.leader(now: now, phase: phase) else {
            return LeaderResponse(leaderID: "", leaderAddress: "", proposal: 0)
        }
        if leader == configuration.id {
            return LeaderResponse(
                leaderID: leader.wireName,
                leaderAddress: configuration.advertisedAddress,
                proposal: coordinator.proposal
            )
        }
        return LeaderResponse(
            leaderID: leader.wireName,
            leaderAddress: configuration.coordinators[leader].map { "\($0)" } ?? "",
            proposal: watch.leaderProposal(now: now) ?? 0
        )
    }

    /// What the admin endpoint shows about this coordinator.
    public func snapshot() -> CoordinatorSnapshot {
        let leader = watch.leader(now: now, phase: coordinator.phase)
        return CoordinatorSnapshot(
            id: configuration.id,
            leading: coordinator.isLeading,
            phase: "\(coordinator.phase)",
            leader: leader,
            leaderAddress: leader.flatMap { leader in
                leader == configuration.id
                    ? configuration.advertisedAddress : configuration.coordinators[leader].map { "\($0)" }
            },
            learnedThrough: coordinator.learnedThrough,
            proposal: coordinator.proposal,
            draining: draining,
            elections: electionsStarted,
            leaderChanges: leaderChangesSeen,
            recovery: recovery.state
        )
    }

    func noteLeaderChange() {
        let current = watch.leader(now: now, phase: coordinator.phase)
        guard current != knownLeader else { return }
        let previous = knownLeader
        knownLeader = current
        metrics.knownLeader.record(Int(current?.rawValue ?? 0))
        metrics.observedLeaderChanges.increment()
        leaderChangesSeen += 1
        logger.notice(
            current == nil ? "no live leader known" : "leader known",
            metadata: [
                "failover/leader": "\(current.map { "\($0.rawValue)" } ?? "none")",
                "failover/previous": "\(previous.map { "\($0.rawValue)" } ?? "none")",
            ]
        )
    }

    // MARK: Handing appends over

    /// This coordinator just won an election: the appends its predecessors (or itself, in an
    /// earlier term) placed and that are in the log count as done, so that retries get their
    /// positions; the others are told, so that they count too if this one dies in turn.
    func tookOver() {
        let applied = ledger.applied(origins: coordinator.fillOrigins)
        for (token, response) in applied { deduplication.remember(token, response) }
        let assignments = applied.map {
            TokenAssignment(token: $0.token, position: $0.response.position, count: $0.response.count)
        }
        ledger.record(assignments, proposal: coordinator.proposal)
        if !applied.isEmpty {
            logger.info(
                "earlier appends carried over for de-duplication",
                metadata: ["failover/appends": "\(applied.count)"]
            )
        }
        sendProgress(assignments)
    }

    /// The core gave positions to these operations: remember the ones with idempotency tokens,
    /// and tell the other coordinators before the writes go out.
    func announce(_ assignments: [Assignment], proposal: Proposal) {
        let tokens = assignments.compactMap { assignment -> TokenAssignment? in
            guard let token = appendTokens[assignment.operation] else { return nil }
            return TokenAssignment(token: token, position: assignment.position, count: assignment.count)
        }
        guard !tokens.isEmpty else { return }
        ledger.record(tokens, proposal: proposal)
        sendProgress(tokens, gatingWrites: true)
    }

    /// Sends ``LeaderProgress`` to every other coordinator. With `gatingWrites`, writes sent after
    /// this wait until it is handed to the network (or briefly, for a peer that does not take it),
    /// so that a write cannot be accepted before the other coordinators could know of it.
    func sendProgress(_ assignments: [TokenAssignment], gatingWrites: Bool = false) {
        let peers = configuration.coordinators.keys.sorted().compactMap { coordinatorLink(to: $0) }
        guard !peers.isEmpty else { return }
        let message = Message.leaderProgress(
            LeaderProgress(
                proposal: coordinator.proposal,
                learnedThrough: coordinator.learnedThrough,
                assignments: assignments
            )
        )
        let sending = Task {
            await withTaskGroup(of: Bool.self) { group in
                for link in peers {
                    group.addTask {
                        try? await link.send(message)
                        return false
                    }
                }
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(50))
                    return true
                }
                // Done when every peer took it, or when the grace period is over.
                var remaining = peers.count
                for await graceOver in group {
                    if !graceOver { remaining -= 1 }
                    if graceOver || remaining == 0 { break }
                }
                group.cancelAll()
            }
        }
        if gatingWrites { announcement = sending }
    }

    func coordinatorLink(to peer: NodeID) -> PeerLink? {
        if let link = coordinatorLinks[peer] { return link }
        guard let endpoint = configuration.coordinators[peer] else { return nil }
        var options = configuration.connection
        options.requestTimeout = .nanoseconds(configuration.failoverTimeout.nanoseconds)
        let link = newLink(
            to: endpoint,
            security: configuration.coordinatorSecurity,
            options: options,
            // Retry a dead peer soon: a restarted coordinator should be heard within a poll or two.
            backoff: Backoff(initial: .milliseconds(50), maximum: .milliseconds(500))
        )
        coordinatorLinks[peer] = link
        return link
    }
}

/// A coordinator's state as the admin endpoint shows it.
public struct CoordinatorSnapshot: Sendable, Hashable {
    public var id: NodeID
    public var leading: Bool
    /// The consensus core's phase: idle, electing, filling or leading.
    public var phase: String
    /// The coordinator known to lead (this one included), or `nil` when none is known.
    public var leader: NodeID?
    public var leaderAddress: String?
    public var learnedThrough: Position
    public var proposal: Proposal
    public var draining: Bool
    /// Elections this coordinator started, and times the leader it knows changed.
    public var elections: Int
    public var leaderChanges: Int
    /// Where a staged recovery on this coordinator stands.
    public var recovery: RecoveryState

    /// Ready to serve: leading, or able to send clients to a live leader.
    public var ready: Bool { leader != nil && !draining }
}
