import ReplogBackup
import ReplogModel
import Testing

/// The scheduling decision on a clock the test controls.
@Suite struct BackupScheduleTests {
    /// 2026-11-23 12:00:00 UTC.
    let start: UInt64 = 1_795_435_200_000
    let hour: UInt64 = 3_600_000

    @Test func theFirstBackupIsDueOneIntervalAfterStartAndOnlyWhileLeading() {
        var schedule = BackupSchedule(intervalMilliseconds: hour, now: start, lastScheduledAt: nil)
        #expect(schedule.tick(now: start, leading: true, existing: []) == nil)
        #expect(schedule.tick(now: start + hour - 1, leading: true, existing: []) == nil)
        #expect(schedule.tick(now: start + hour, leading: false, existing: []) == nil)
        #expect(schedule.tick(now: start + 2 * hour, leading: false, existing: []) == nil)
        // Leading again after the due time: one backup at once, not one per missed interval.
        #expect(
            schedule.tick(now: start + 2 * hour + 5_000, leading: true, existing: [])
                == .take(id: "replog-backup-2026-11-23-14-00")
        )
        #expect(schedule.tick(now: start + 2 * hour + 6_000, leading: true, existing: []) == nil)
    }

    @Test func oneScheduledBackupAtATimeAtAFixedRateThenRetention() {
        var schedule = BackupSchedule(intervalMilliseconds: hour, now: start, lastScheduledAt: nil)
        #expect(
            schedule.tick(now: start + hour, leading: true, existing: []) == .take(id: "replog-backup-2026-11-23-13-00")
        )
        // Still running an interval later: no second one.
        #expect(schedule.tick(now: start + 2 * hour + 1, leading: true, existing: []) == nil)
        #expect(schedule.finished("some-other-id", succeeded: true, now: start + 2 * hour) == [])
        #expect(
            schedule.finished("replog-backup-2026-11-23-13-00", succeeded: true, now: start + hour + 60_000)
                == [.applyRetention]
        )
        #expect(schedule.nextDue == start + 2 * hour)
        #expect(schedule.tick(now: start + 2 * hour - 1, leading: true, existing: []) == nil)
        #expect(
            schedule.tick(now: start + 2 * hour, leading: true, existing: [])
                == .take(id: "replog-backup-2026-11-23-14-00")
        )
        // A backup that took longer than the interval is followed at once.
        _ = schedule.finished("replog-backup-2026-11-23-14-00", succeeded: true, now: start + 3 * hour + 10)
        #expect(schedule.tick(now: start + 3 * hour + 10, leading: true, existing: []) != nil)
    }

    @Test func aFailureIsRetriedAfterAMinuteOrTheIntervalIfShorter() {
        var hourly = BackupSchedule(intervalMilliseconds: hour, now: start, lastScheduledAt: nil)
        #expect(hourly.tick(now: start + hour, leading: true, existing: []) != nil)
        #expect(hourly.finished("replog-backup-2026-11-23-13-00", succeeded: false, now: start + hour + 500) == [])
        #expect(hourly.nextDue == start + hour + 500 + 60_000)

        var fast = BackupSchedule(intervalMilliseconds: 2_000, now: start, lastScheduledAt: nil)
        #expect(
            fast.tick(now: start + 2_000, leading: true, existing: []) == .take(id: "replog-backup-2026-11-23-12-00-02")
        )
        _ = fast.finished("replog-backup-2026-11-23-12-00-02", succeeded: false, now: start + 2_100)
        #expect(fast.nextDue == start + 4_100)
    }

    @Test func aRestartCountsFromTheNewestKeptScheduledBackup() {
        let schedule = BackupSchedule(intervalMilliseconds: hour, now: start, lastScheduledAt: start - 20 * 60_000)
        #expect(schedule.nextDue == start + 40 * 60_000)
        let overdue = BackupSchedule(intervalMilliseconds: hour, now: start, lastScheduledAt: start - 5 * hour)
        #expect(overdue.nextDue < start)
        // A backup stamped in the future (the clock went back) does not postpone the schedule.
        let future = BackupSchedule(intervalMilliseconds: hour, now: start, lastScheduledAt: start + 10 * hour)
        #expect(future.nextDue == start + hour)
    }

    @Test func namesTakeTheSecondUnderAMinuteOrWhenTheMinuteIsTaken() {
        let at = start + 7_000
        #expect(BackupSchedule.id(at: at, intervalMilliseconds: hour, avoiding: []) == "replog-backup-2026-11-23-12-00")
        #expect(
            BackupSchedule.id(at: at, intervalMilliseconds: hour, avoiding: ["replog-backup-2026-11-23-12-00"])
                == "replog-backup-2026-11-23-12-00-07"
        )
        #expect(
            BackupSchedule.id(at: at, intervalMilliseconds: 1_000, avoiding: []) == "replog-backup-2026-11-23-12-00-07"
        )
        let both: Set = ["replog-backup-2026-11-23-12-00", "replog-backup-2026-11-23-12-00-07"]
        #expect(BackupSchedule.id(at: at, intervalMilliseconds: hour, avoiding: both) == nil)
        var schedule = BackupSchedule(intervalMilliseconds: 1_000, now: at - 1_000, lastScheduledAt: nil)
        #expect(schedule.tick(now: at + 250, leading: true, existing: both) == nil)
        #expect(schedule.nextDue == at + 1_000)
        // Seconds sort after their minute and before the next minute: retention stays oldest-first.
        let sorted = [
            "replog-backup-2026-11-23-12-01", "replog-backup-2026-11-23-12-00-07", "replog-backup-2026-11-23-12-00",
        ].sorted()
        #expect(
            sorted == [
                "replog-backup-2026-11-23-12-00", "replog-backup-2026-11-23-12-00-07", "replog-backup-2026-11-23-12-01",
            ]
        )
    }

    /// A day of a 1-second schedule, with retention applied as the service does: only the newest
    /// scheduled backups remain, and labelled ones are never touched.
    @Test func scheduleAndRetentionKeepTheNewestScheduledBackups() {
        var schedule = BackupSchedule(intervalMilliseconds: 1_000, now: start, lastScheduledAt: nil)
        var kept: Set<String> = ["before-upgrade-3f1c9a52-6b0e-4d2a-9c41-7e5b2a90d1f3"]
        let retention = RetentionPolicy(maxSaved: 3)
        var taken: [String] = []
        var now = start
        while now < start + 200_000 {
            now += 250
            guard case .take(let id)? = schedule.tick(now: now, leading: true, existing: kept) else { continue }
            taken.append(id)
            kept.insert(id)
            for action in schedule.finished(id, succeeded: true, now: now + 100) where action == .applyRetention {
                kept.subtract(retention.expired(among: Array(kept)))
            }
        }
        #expect(taken.count >= 190)
        #expect(Set(taken).count == taken.count, "a scheduled id was used twice")
        #expect(kept.contains("before-upgrade-3f1c9a52-6b0e-4d2a-9c41-7e5b2a90d1f3"))
        #expect(kept.subtracting(["before-upgrade-3f1c9a52-6b0e-4d2a-9c41-7e5b2a90d1f3"]) == Set(taken.suffix(3)))
    }
}
