import ReplogModel

/// When the leading coordinator takes its scheduled backups (Aurora's `-backup_interval`), as a
/// pure decision: the caller passes the time, whether it leads and which ids exist, and carries
/// out what comes back.
///
/// One scheduled backup runs at a time. The next one is due an interval after the previous one
/// started (or, at start-up, after the newest scheduled backup already in the directory, so that
/// a restart does not take an extra one); after a failure it is tried again sooner. A
/// coordinator that does not lead takes none; one that starts leading after a due time takes
/// one at once.
public struct BackupSchedule: Sendable {
    /// What the caller does next.
    public enum Action: Sendable, Hashable {
        /// Take scheduled backup `id` now, then report ``finished(_:succeeded:now:)``.
        case take(id: String)
        /// A scheduled backup was added: delete the oldest beyond the limit (``RetentionPolicy``).
        case applyRetention
    }

    public let intervalMilliseconds: UInt64
    /// The wait before trying again after a failed backup: a minute, or the interval if shorter.
    public let retryMilliseconds: UInt64
    /// When the next scheduled backup is due, in milliseconds since the Unix epoch.
    public private(set) var nextDue: UInt64
    /// The scheduled backup being taken, and when it started.
    public private(set) var running: (id: String, startedAt: UInt64)?

    /// - Parameters:
    ///   - intervalMilliseconds: the time between scheduled backups, at least 1 ms.
    ///   - now: the time the schedule starts.
    ///   - lastScheduledAt: the creation time of the newest scheduled backup already kept, if any.
    public init(intervalMilliseconds: UInt64, now: UInt64, lastScheduledAt: UInt64?) {
        self.intervalMilliseconds = max(1, intervalMilliseconds)
        retryMilliseconds = min(self.intervalMilliseconds, 60_000)
        nextDue = (lastScheduledAt.map { min($0, now) } ?? now) + self.intervalMilliseconds
    }

    /// Called regularly: whether to start a scheduled backup now.
    ///
    /// - Parameter existing: the ids of every backup kept or being taken, so that the new id is
    ///   not one of them.
    public mutating func tick(now: UInt64, leading: Bool, existing: Set<String>) -> Action? {
        guard running == nil, leading, now >= nextDue else { return nil }
        guard let id = Self.id(at: now, intervalMilliseconds: intervalMilliseconds, avoiding: existing) else {
            // This second's name is taken (the clock went back, or a restart within the second):
            // the next second has a new one.
            nextDue = now + 1000 - now % 1000
            return nil
        }
        running = (id, now)
        return .take(id: id)
    }

    /// The scheduled backup `id` finished.
    public mutating func finished(_ id: String, succeeded: Bool, now: UInt64) -> [Action] {
        guard let running, running.id == id else { return [] }
        self.running = nil
        if succeeded {
            // Fixed rate: a backup that took longer than the interval is followed at once.
            nextDue = running.startedAt + intervalMilliseconds
            return [.applyRetention]
        }
        nextDue = now + retryMilliseconds
        return []
    }

    /// `replog-backup-<yyyy-MM-dd-HH-mm>`, with `-<ss>` added when the interval is under a minute
    /// or that minute's name is taken; nil when the name is taken. Both forms sort by time.
    ///
    /// Schedules under a minute always add the second: retention may delete a minute's first
    /// backup while the minute goes on, and its name must not come back as the newest.
    public static func id(at now: UInt64, intervalMilliseconds: UInt64, avoiding existing: Set<String>) -> String? {
        let minute = BackupID.scheduled(at: now)
        if intervalMilliseconds >= 60_000 && !existing.contains(minute) { return minute }
        let second = UTCTime(millisecondsSinceEpoch: now).second
        let withSecond = minute + (second < 10 ? "-0\(second)" : "-\(second)")
        return existing.contains(withSecond) ? nil : withSecond
    }
}
