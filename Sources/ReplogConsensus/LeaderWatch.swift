public import ReplogModel

/// How a coordinator decides, among several, when it may try to lead.
public struct LeaderWatchConfiguration: Sendable, Hashable {
    /// This coordinator.
    public var id: NodeID
    /// The other coordinators of the cluster.
    public var peers: [NodeID]
    /// How often the other coordinators are asked who leads.
    public var pollInterval: Duration = .milliseconds(200)
    /// A leader not heard from for this long is taken for dead: the others may take over.
    public var failoverTimeout: Duration = .seconds(1)
    /// Extra wait per live coordinator with a lower id, so that the lowest one tries first and the
    /// others see it lead before their turn comes.
    public var rankDelay: Duration = .milliseconds(500)
    /// A random extra wait in `0 ..< jitter`, so that equal ranks (a split view) rarely collide.
    public var jitter: Duration = .milliseconds(100)

    public init(id: NodeID, peers: [NodeID]) {
        self.id = id
        self.peers = peers
    }

    /// Why this configuration cannot work, or `nil`.
    public var problem: String? {
        if peers.contains(id) { return "coordinator \(id.rawValue) lists itself among the other coordinators" }
        if Set(peers).count != peers.count { return "the coordinator list names a coordinator twice" }
        if pollInterval <= .zero || failoverTimeout <= .zero || rankDelay < .zero || jitter < .zero {
            return "poll interval and failover timeout must be positive"
        }
        if failoverTimeout < pollInterval * 2 {
            return "the failover timeout (\(failoverTimeout)) must be at least two poll intervals (\(pollInterval))"
        }
        return nil
    }
}

/// What a ``LeaderWatch`` asks its shell to do.
public enum LeaderWatchDirective: Sendable, Hashable {
    /// Ask this coordinator who leads (a `LeaderRequest`), and report the answer with
    /// ``LeaderWatch/heard(from:_:at:)`` or the failure with ``LeaderWatch/unreachable(_:at:)``.
    case poll(NodeID)
    /// Start an election now (``Coordinator/elect()``).
    case elect
}

/// What another coordinator said about leadership.
public enum PeerReport: Sendable, Hashable {
    /// It leads, or has won an election and is filling, with this proposal.
    case leading(Proposal)
    /// It does not lead; `leader` is the coordinator it believes leads, if any.
    case following(leader: NodeID?)
}

/// Decides when a coordinator that shares the cluster with others may start an election, and
/// which coordinator leads as far as it knows (for redirecting clients).
///
/// A coordinator never contests a live leader: it polls the other coordinators, and also counts
/// a leader's progress messages and the proposals replicas reject it with as signs of life. Only
/// once no leader was heard of for the failover timeout does it elect, after a delay that grows
/// with the number of live coordinators with a lower id (plus a little jitter), so that exactly
/// one tries first and the others see it lead before their turn.
///
/// Pure: time is passed in (as the duration since any fixed origin) and randomness is seeded.
public struct LeaderWatch: Sendable {
    struct Peer: Sendable {
        /// The last time it answered a poll, whatever it said.
        var answered: Duration?
        /// The last sign that it leads, and with which proposal.
        var claim: (at: Duration, proposal: Proposal)?
        /// The last time a poll of it failed.
        var failed: Duration?
        /// The leader it named when it last answered as a follower.
        var names: NodeID?
        var polling = false
    }

    public let configuration: LeaderWatchConfiguration
    var peers: [NodeID: Peer]
    var random: SplitMix64
    /// Since when no leader is known (the start, the last sign of a leader, or the last time this
    /// coordinator led).
    var silentSince: Duration
    var jitter: Duration = .zero
    var jitterFor: Duration?

    public init(configuration: LeaderWatchConfiguration, seed: UInt64, now: Duration) {
        precondition(configuration.problem == nil, configuration.problem ?? "")
        self.configuration = configuration
        self.peers = Dictionary(uniqueKeysWithValues: configuration.peers.map { ($0, Peer()) })
        self.random = SplitMix64(seed: seed)
        self.silentSince = now
    }

    // MARK: Events

    /// The periodic step (every ``LeaderWatchConfiguration/pollInterval``): polls the other
    /// coordinators and says whether to elect, given this coordinator's own `phase`.
    public mutating func tick(now: Duration, phase: Coordinator.Phase) -> [LeaderWatchDirective] {
        var out: [LeaderWatchDirective] = []
        for id in configuration.peers {
            guard var peer = peers[id] else { continue }
            if peer.polling { continue }
            peer.polling = true
            peers[id] = peer
            out.append(.poll(id))
        }
        switch phase {
        case .leading, .filling, .electing:
            // Busy leading or trying to: the silence of others starts only once this one stops.
            silentSince = max(silentSince, now)
        case .idle:
            if let electAt = electionTime(now: now), now >= electAt {
                out.append(.elect)
                // Next attempt (if this one fails) waits for a new draw of the jitter.
                jitterFor = nil
            }
        }
        return out
    }

    /// A coordinator answered a poll.
    public mutating func heard(from id: NodeID, _ report: PeerReport, at now: Duration) {
        guard var peer = peers[id] else { return }
        peer.polling = false
        peer.answered = now
        switch report {
        case .leading(let proposal):
            peer.claim = (now, proposal)
            peer.names = nil
            noteLeader(at: now)
        case .following(let leader):
            peer.names = leader
        }
        peers[id] = peer
    }

    /// A poll of a coordinator failed (refused, timed out, connection lost).
    public mutating func unreachable(_ id: NodeID, at now: Duration) {
        guard var peer = peers[id] else { return }
        peer.polling = false
        peer.failed = now
        peers[id] = peer
    }

    /// The leader told this coordinator of its progress: it lives and leads with `proposal`.
    public mutating func progress(from id: NodeID, proposal: Proposal, at now: Duration) {
        guard var peer = peers[id] else { return }
        if let claim = peer.claim, claim.proposal > proposal, now - claim.at < configuration.failoverTimeout { return }
        peer.claim = (now, proposal)
        peers[id] = peer
        noteLeader(at: now)
    }

    /// A replica refused this coordinator because it promised `proposal`: whoever made that
    /// proposal was alive a moment ago and is taking over (or leads). Proposals made by
    /// replicas filling holes or by unknown processes say nothing about leadership.
    public mutating func rejected(by proposal: Proposal, at now: Duration) {
        let owner = NodeID(UInt32(proposal & 0xFF))
        guard var peer = peers[owner] else { return }
        if let claim = peer.claim, claim.proposal >= proposal, now - claim.at < configuration.failoverTimeout { return }
        peer.claim = (now, proposal)
        peers[owner] = peer
        noteLeader(at: now)
    }

    // MARK: Queries

    /// The coordinator that leads as far as this one knows: itself while it leads (or fills after
    /// winning), else the live coordinator that claims to lead with the highest proposal, or
    /// `nil` while none is known (a leader whose last poll failed is not named: clients are
    /// better off trying the others).
    public func leader(now: Duration, phase: Coordinator.Phase) -> NodeID? {
        if phase == .leading || phase == .filling { return configuration.id }
        return liveClaim(now: now)?.id
    }

    /// The proposal the known leader claimed, or `nil`.
    public func leaderProposal(now: Duration) -> Proposal? {
        liveClaim(now: now)?.proposal
    }

    /// When this coordinator may next start an election, while it does not lead and knows no
    /// live leader; `nil` when a leader is known.
    public mutating func electionTime(now: Duration) -> Duration? {
        if let evidence = latestClaim() { silentSince = max(silentSince, evidence) }
        guard configuration.peers.isEmpty || liveClaim(now: now) == nil else { return nil }
        if configuration.peers.isEmpty { return silentSince }
        if jitterFor != silentSince {
            jitterFor = silentSince
            jitter =
                configuration.jitter > .zero ? Duration.random(in: .zero, configuration.jitter, using: &random) : .zero
        }
        return silentSince + configuration.failoverTimeout + configuration.rankDelay * rank(now: now) + jitter
    }

    /// The other coordinators that answered within the failover timeout, by id.
    public func liveCoordinators(now: Duration) -> [NodeID] {
        configuration.peers.filter { id in
            guard let answered = peers[id]?.answered else { return false }
            return now - answered < configuration.failoverTimeout
        }.sorted()
    }

    /// How many live coordinators with a lower id would try before this one.
    public func rank(now: Duration) -> Int {
        configuration.peers.filter { id in
            guard id < configuration.id, let answered = peers[id]?.answered else { return false }
            return now - answered < configuration.failoverTimeout
        }.count
    }

    // MARK: Internals

    mutating func noteLeader(at now: Duration) {
        silentSince = max(silentSince, now)
    }

    func latestClaim() -> Duration? {
        peers.values.compactMap { $0.claim?.at }.max()
    }

    func liveClaim(now: Duration) -> (id: NodeID, proposal: Proposal)? {
        var best: (id: NodeID, proposal: Proposal)?
        for (id, peer) in peers {
            guard let claim = peer.claim, now - claim.at < configuration.failoverTimeout else { continue }
            if let failed = peer.failed, failed > claim.at { continue }
            if claim.proposal > best?.proposal ?? 0 { best = (id, claim.proposal) }
        }
        return best
    }
}
