import ReplogConsensus
import ReplogCoordinator
import ReplogModel
import ReplogWire
import Testing

/// The commit's decisions, driven by hand: no sockets, no clock.
@Suite struct RecoveryCommitTests {
    typealias Directive = RecoveryCommit.Directive

    static func configuration(
        batchEntries: Int = 2,
        window: Int = 2,
        maxAttempts: Int = 3
    ) -> RecoveryCommit.Configuration {
        var configuration = RecoveryCommit.Configuration()
        configuration.batchEntries = batchEntries
        configuration.batchBytes = 100
        configuration.window = window
        configuration.maxAttempts = maxAttempts
        configuration.settleTimeout = .seconds(10)
        configuration.retryDelay = .seconds(1)
        configuration.pollInterval = .milliseconds(50)
        return configuration
    }

    static let ready = RecoveryCommit.View(leading: true, outstanding: 0, learnedThrough: 40)

    static func appended(_ position: Position, _ count: Int) -> Result<OperationResult, ErrorReply> {
        .success(.appended(position: position, count: UInt32(count)))
    }

    static func truncated(_ position: Position) -> Result<OperationResult, ErrorReply> {
        .success(.truncated(position: position))
    }

    static let lost = Result<OperationResult, ErrorReply>.failure(ErrorReply(code: .notLeader, text: "leadership lost"))

    @Test func batchesRespectEntryAndByteLimits() {
        let commit = RecoveryCommit(
            entrySizes: [10, 10, 10, 90, 200, 5],
            readCap: nil,
            configuration: Self.configuration(),
            now: .zero
        )
        // Two entries at most; 100 bytes at most (10 + 90 fit) unless one entry alone is larger.
        #expect(commit.batches == [0..<2, 2..<4, 4..<5, 5..<6])
    }

    @Test func aCommitHoldsReadersWritesFenceEntriesThenTruncatesBelowThem() {
        var commit = RecoveryCommit(
            entrySizes: [1, 1, 1, 1, 1],
            readCap: nil,
            configuration: Self.configuration(),
            now: .zero
        )
        // Not leading yet: wait and ask again.
        let waiting = commit.tick(now: .zero, view: .init(leading: false, outstanding: 0, learnedThrough: 40))
        #expect(waiting == [.wake(after: .milliseconds(50))])
        let busy = commit.tick(now: .milliseconds(50), view: .init(leading: true, outstanding: 3, learnedThrough: 40))
        #expect(busy == [.wake(after: .milliseconds(50))])

        let started = commit.tick(now: .milliseconds(100), view: Self.ready)
        #expect(
            started == [
                .holdReads(at: 40),
                .writeFence(.fence(attempt: 1)),
                .append(.batch(attempt: 1, index: 0), entries: 0..<2),
                .append(.batch(attempt: 1, index: 1), entries: 2..<4),
            ]
        )
        #expect(commit.readCap == 40)
        #expect(commit.completed(.fence(attempt: 1), Self.truncated(41), now: .seconds(1)).isEmpty)
        // A batch completing frees a slot in the window for the next one.
        #expect(
            commit.completed(.batch(attempt: 1, index: 0), Self.appended(42, 2), now: .seconds(1))
                == [.append(.batch(attempt: 1, index: 2), entries: 4..<5)]
        )
        #expect(commit.completed(.batch(attempt: 1, index: 1), Self.appended(44, 2), now: .seconds(1)).isEmpty)
        #expect(commit.written == 4)
        // Everything landed contiguously after the fence: truncate below the first entry.
        #expect(
            commit.completed(.batch(attempt: 1, index: 2), Self.appended(46, 1), now: .seconds(1))
                == [.truncate(.truncate(attempt: 1), to: 42)]
        )
        #expect(
            commit.completed(.truncate(attempt: 1), Self.truncated(47), now: .seconds(1))
                == [.finished(restartFrom: 42, last: 46)]
        )
        #expect(commit.isOver)
        #expect(commit.tick(now: .seconds(2), view: Self.ready).isEmpty)
    }

    @Test func aFailedAttemptIsAbandonedAndTheNextStartsAfterTheCurrentEndWithoutMovingTheHold() {
        var commit = RecoveryCommit(
            entrySizes: [1, 1, 1],
            readCap: nil,
            configuration: Self.configuration(),
            now: .zero
        )
        _ = commit.tick(now: .zero, view: Self.ready)
        _ = commit.completed(.fence(attempt: 1), Self.truncated(41), now: .zero)
        _ = commit.completed(.batch(attempt: 1, index: 0), Self.appended(42, 2), now: .zero)
        // Leadership lost while the second batch was in flight.
        #expect(
            commit.completed(.batch(attempt: 1, index: 1), Self.lost, now: .seconds(2)) == [.wake(after: .seconds(1))]
        )
        // Late answers of the abandoned attempt change nothing.
        #expect(commit.completed(.batch(attempt: 1, index: 1), Self.appended(44, 1), now: .seconds(2)).isEmpty)
        // Not before the retry delay, and not while operations are still in flight.
        #expect(commit.tick(now: .milliseconds(2500), view: Self.ready) == [.wake(after: .milliseconds(500))])
        let draining = RecoveryCommit.View(leading: true, outstanding: 1, learnedThrough: 44)
        #expect(commit.tick(now: .seconds(3), view: draining) == [.wake(after: .milliseconds(50))])
        // The second attempt writes after the current end; readers stay held at the first end.
        let second = commit.tick(
            now: .seconds(4),
            view: .init(leading: true, outstanding: 0, learnedThrough: 44)
        )
        #expect(
            second == [
                .writeFence(.fence(attempt: 2)),
                .append(.batch(attempt: 2, index: 0), entries: 0..<2),
                .append(.batch(attempt: 2, index: 1), entries: 2..<3),
            ]
        )
        #expect(commit.readCap == 40)
        #expect(commit.written == 0)
        _ = commit.completed(.fence(attempt: 2), Self.truncated(45), now: .seconds(4))
        _ = commit.completed(.batch(attempt: 2, index: 0), Self.appended(46, 2), now: .seconds(4))
        #expect(
            commit.completed(.batch(attempt: 2, index: 1), Self.appended(48, 1), now: .seconds(4))
                == [.truncate(.truncate(attempt: 2), to: 46)]
        )
        // The truncation removes the old log and the failed attempt's entries at once.
        #expect(
            commit.completed(.truncate(attempt: 2), Self.truncated(49), now: .seconds(4))
                == [.finished(restartFrom: 46, last: 48)]
        )
        #expect(commit.attempts == 2)
    }

    @Test func entriesThatDidNotLandContiguouslyAbandonTheAttempt() {
        var commit = RecoveryCommit(
            entrySizes: [1, 1, 1],
            readCap: nil,
            configuration: Self.configuration(),
            now: .zero
        )
        _ = commit.tick(now: .zero, view: Self.ready)
        _ = commit.completed(.fence(attempt: 1), Self.truncated(41), now: .zero)
        _ = commit.completed(.batch(attempt: 1, index: 0), Self.appended(42, 2), now: .zero)
        // Another writer's entry at 44: the batch landed one position too far.
        #expect(
            commit.completed(.batch(attempt: 1, index: 1), Self.appended(45, 1), now: .zero) == [
                .wake(after: .seconds(1))
            ]
        )
    }

    @Test func aTruncationThatLandsAnywhereButRightAfterTheEntriesAbandonsTheAttempt() {
        var commit = RecoveryCommit(entrySizes: [1], readCap: nil, configuration: Self.configuration(), now: .zero)
        _ = commit.tick(now: .zero, view: Self.ready)
        _ = commit.completed(.fence(attempt: 1), Self.truncated(41), now: .zero)
        #expect(
            commit.completed(.batch(attempt: 1, index: 0), Self.appended(42, 1), now: .zero)
                == [.truncate(.truncate(attempt: 1), to: 42)]
        )
        #expect(commit.completed(.truncate(attempt: 1), Self.truncated(44), now: .zero) == [.wake(after: .seconds(1))])
    }

    @Test func afterTheLastAttemptTheCommitStopsAndKeepsReadersHeld() {
        var commit = RecoveryCommit(
            entrySizes: [1],
            readCap: nil,
            configuration: Self.configuration(maxAttempts: 2),
            now: .zero
        )
        _ = commit.tick(now: .zero, view: Self.ready)
        _ = commit.completed(.fence(attempt: 1), Self.lost, now: .seconds(1))
        _ = commit.tick(now: .seconds(2), view: Self.ready)
        let stopped = commit.completed(.fence(attempt: 2), Self.lost, now: .seconds(3))
        #expect(stopped == [.stopped(reason: "attempt 2 of 2 failed: fence(attempt: 2) failed: leadership lost")])
        #expect(commit.isOver)
        #expect(commit.readCap == 40)
    }

    @Test func withoutLeadershipTheCommitStopsBeforeWritingAnything() {
        var commit = RecoveryCommit(entrySizes: [1], readCap: nil, configuration: Self.configuration(), now: .zero)
        let view = RecoveryCommit.View(leading: false, outstanding: 0, learnedThrough: 40)
        #expect(commit.tick(now: .seconds(5), view: view) == [.wake(after: .milliseconds(50))])
        let stopped = commit.tick(now: .seconds(10), view: view)
        guard case .stopped(let reason)? = stopped.first else {
            Issue.record("expected the commit to stop, got \(stopped)")
            return
        }
        #expect(reason.contains("does not lead"))
        #expect(commit.readCap == nil, "nothing was written, so readers need no hold")
    }

    @Test func aCommitRunAgainAfterAnInterruptionKeepsTheEarlierHold() {
        var commit = RecoveryCommit(entrySizes: [], readCap: 33, configuration: Self.configuration(), now: .zero)
        // An empty staged copy: the fence, then the truncation right after it.
        #expect(commit.tick(now: .zero, view: Self.ready) == [.writeFence(.fence(attempt: 1))])
        #expect(
            commit.completed(.fence(attempt: 1), Self.truncated(41), now: .zero)
                == [.truncate(.truncate(attempt: 1), to: 42)]
        )
        #expect(
            commit.completed(.truncate(attempt: 1), Self.truncated(42), now: .zero)
                == [.finished(restartFrom: 42, last: 41)]
        )
        #expect(commit.readCap == 33)
    }
}
