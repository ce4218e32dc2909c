import ReplogConsensus
import ReplogModel
import Testing

/// The failover decisions of ``LeaderWatch``, driven by hand with a virtual clock.
@Suite struct LeaderWatchTests {
    let c101 = NodeID(101)
    let c102 = NodeID(102)
    let c103 = NodeID(103)

    func watch(_ id: NodeID, peers: [NodeID], jitter: Duration = .zero) -> LeaderWatch {
        var configuration = LeaderWatchConfiguration(id: id, peers: peers)
        configuration.jitter = jitter
        return LeaderWatch(configuration: configuration, seed: 42, now: .zero)
    }

    /// Ticks every poll interval from `from` to `to` (inclusive), answering polls with `answer`;
    /// returns the first time the watch said to elect.
    func firstElection(
        _ watch: inout LeaderWatch,
        from: Duration,
        to: Duration,
        phase: Coordinator.Phase = .idle,
        answer: (NodeID, Duration) -> PeerReport?
    ) -> Duration? {
        var now = from
        while now <= to {
            for directive in watch.tick(now: now, phase: phase) {
                switch directive {
                case .poll(let peer):
                    if let report = answer(peer, now) {
                        watch.heard(from: peer, report, at: now)
                    } else {
                        watch.unreachable(peer, at: now)
                    }
                case .elect:
                    return now
                }
            }
            now += .milliseconds(200)
        }
        return nil
    }

    @Test func aLoneCoordinatorElectsAtOnce() {
        var lone = watch(c101, peers: [])
        #expect(lone.tick(now: .zero, phase: .idle) == [.elect])
        #expect(lone.leader(now: .zero, phase: .idle) == nil)
        #expect(lone.leader(now: .zero, phase: .leading) == c101)
    }

    @Test func nobodyElectsWhileALeaderAnswers() {
        var follower = watch(c101, peers: [c102])
        let elected = firstElection(&follower, from: .zero, to: .seconds(30)) { _, _ in .leading(0x266) }
        #expect(elected == nil)
        #expect(follower.leader(now: .seconds(30), phase: .idle) == c102)
        #expect(follower.leaderProposal(now: .seconds(30)) == 0x266)
    }

    @Test func aLeaderSilentForTheFailoverTimeoutIsReplacedByTheLowestLiveId() {
        // c102 leads until 5 s, then dies. c101 (lower id) takes over one timeout later.
        var low = watch(c101, peers: [c102, c103])
        var high = watch(c103, peers: [c101, c102])
        let answers: (NodeID, Duration) -> PeerReport? = { peer, now in
            if peer == NodeID(102) { return now < .seconds(5) ? .leading(0x366) : nil }
            return .following(leader: now < .seconds(5) ? NodeID(102) : nil)
        }
        let lowElects = firstElection(&low, from: .zero, to: .seconds(20), answer: answers)
        let highElects = firstElection(&high, from: .zero, to: .seconds(20), answer: answers)
        // The last answer came at 4.8 s: the timeout runs from there.
        #expect(lowElects == .milliseconds(5800))
        // c103 has one live coordinator below it (c101), so it waits one rank delay more, by
        // which time (in a real cluster) it has seen c101 lead.
        #expect(highElects == .milliseconds(6400))
        #expect(low.leader(now: .seconds(5), phase: .idle) == nil, "a leader whose poll failed is not named")
    }

    @Test func aCoordinatorThatSeesTheNewLeaderDoesNotElect() {
        var high = watch(c103, peers: [c101, c102])
        let elected = firstElection(&high, from: .zero, to: .seconds(20)) { peer, now in
            if peer == NodeID(102) { return now < .seconds(5) ? .leading(0x366) : nil }
            // c101 takes over at 5.8 s, before c103's turn at 6.3 s.
            if now >= .milliseconds(5800) { return .leading(0x465) }
            return .following(leader: now < .seconds(5) ? NodeID(102) : nil)
        }
        #expect(elected == nil)
        #expect(high.leader(now: .seconds(20), phase: .idle) == c101)
    }

    @Test func atStartCoordinatorsWaitOneTimeoutAndTheLowestGoesFirst() {
        var low = watch(c101, peers: [c102])
        var high = watch(c102, peers: [c101])
        let following: (NodeID, Duration) -> PeerReport? = { _, _ in .following(leader: nil) }
        #expect(firstElection(&low, from: .zero, to: .seconds(5), answer: following) == .seconds(1))
        #expect(firstElection(&high, from: .zero, to: .seconds(5), answer: following) == .milliseconds(1600))
    }

    @Test func aRejectionNamesTheProposerAsALiveLeader() {
        var follower = watch(c101, peers: [c102])
        follower.rejected(by: 0x0566, at: .seconds(3))
        #expect(follower.leader(now: .seconds(3), phase: .idle) == c102)
        #expect(follower.electionTime(now: .seconds(3)) == nil)
        // A proposal made by a replica (id 2, filling holes) says nothing about coordinators.
        var other = watch(c101, peers: [c102])
        other.rejected(by: 0x0502, at: .seconds(3))
        #expect(other.leader(now: .seconds(3), phase: .idle) == nil)
    }

    @Test func progressMessagesKeepTheLeaderAliveBetweenPolls() {
        var follower = watch(c101, peers: [c102])
        var now = Duration.zero
        while now < .seconds(10) {
            for directive in follower.tick(now: now, phase: .idle) {
                if case .poll(let peer) = directive { follower.unreachable(peer, at: now) }
                #expect(directive != .elect, "elected at \(now) while the leader kept sending progress")
            }
            follower.progress(from: c102, proposal: 0x666, at: now)
            now += .milliseconds(200)
        }
    }

    @Test func whileBusyLeadingTheSilenceOfOthersDoesNotCount() {
        var leader = watch(c101, peers: [c102])
        for step in 0..<50 {
            let now = Duration.milliseconds(200 * step)
            let directives = leader.tick(now: now, phase: .leading)
            #expect(!directives.contains(.elect))
            for case .poll(let peer) in directives { leader.unreachable(peer, at: now) }
        }
        // Lost leadership at 10 s: it waits a full timeout before electing again.
        #expect(leader.electionTime(now: .seconds(10)) == .milliseconds(10_800))
    }

    @Test func pollsAreNotStackedOnASlowPeer() {
        var follower = watch(c101, peers: [c102])
        #expect(follower.tick(now: .zero, phase: .idle) == [.poll(c102)])
        #expect(follower.tick(now: .milliseconds(200), phase: .idle).isEmpty)
        follower.heard(from: c102, .following(leader: nil), at: .milliseconds(300))
        #expect(follower.tick(now: .milliseconds(400), phase: .idle) == [.poll(c102)])
    }

    @Test func jitterIsDrawnFromTheSeedAndStaysWithinItsBound() {
        var first = watch(c101, peers: [c102], jitter: .milliseconds(100))
        var second = watch(c101, peers: [c102], jitter: .milliseconds(100))
        let a = first.electionTime(now: .zero)
        let b = second.electionTime(now: .zero)
        #expect(a == b, "the same seed gives the same decisions")
        #expect(a.map { $0 >= .seconds(1) && $0 < .milliseconds(1100) } == true)
    }

    @Test func badConfigurationsSayWhy() {
        #expect(LeaderWatchConfiguration(id: c101, peers: [c101]).problem?.contains("lists itself") == true)
        var fast = LeaderWatchConfiguration(id: c101, peers: [c102])
        fast.failoverTimeout = .milliseconds(300)
        #expect(fast.problem?.contains("at least two poll intervals") == true)
    }
}
