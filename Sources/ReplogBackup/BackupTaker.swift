public import ReplogModel

/// Where a backup's entries come from: a running log, read through a client or from the replicas.
public protocol BackupSource: Sendable {
    /// The log's first position and the last position that is learned, right now.
    func positions() async throws -> (begin: Position, end: Position)
    /// The next learned entries of `from ... to`, in position order, and the position after the
    /// last one this batch covers (positions without an entry, NOP and TRUNCATE, are skipped).
    /// `next == from` means nothing there is learned yet; the caller waits and asks again.
    func batch(from: Position, to: Position) async throws -> BackupBatch
}

/// One batch of a ``BackupSource``.
public struct BackupBatch: Sendable {
    public var entries: [BackupEntry]
    public var next: Position
    public init(entries: [BackupEntry], next: Position) {
        self.entries = entries
        self.next = next
    }
}

/// How far a backup has got, reported after every batch.
public struct BackupProgress: Sendable, Hashable {
    /// The next position to read, and the last one the backup covers.
    public var next: Position
    public var last: Position
    public var entryCount: UInt64
    public var entryBytes: UInt64
    /// Bytes handed to the file so far (header and records).
    public var fileBytes: UInt64
}

/// Why a backup could not be taken.
public enum BackupTakeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Reading stopped at `position`: no replica served it within the wait.
    case stalled(position: Position, seconds: Int)

    public var description: String {
        switch self {
        case .stalled(let position, let seconds):
            return "no replica served learned position \(position) within \(seconds) s;"
                + " check that a quorum of replicas is VOTING (`replog status`) and take the backup again"
        }
    }
}

/// Takes a consistent backup of a running log without stopping anything.
///
/// Consistency comes from the log itself: the backup covers `begin ... end` as they were when
/// it started, and learned entries never change, so the entries read while writes go on are
/// exactly the log's content up to that fixed position. A truncation that overtakes the read
/// fails the backup (and removes its temporary file) rather than producing a partial one.
public struct BackupTaker: Sendable {
    public var directory: String
    /// How long reading may make no progress before the backup fails.
    public var stallLimit: Duration = .seconds(10)

    public init(directory: String) {
        self.directory = directory
    }

    /// The range a backup of a log whose positions are `begin ... end` covers.
    public static func range(begin: Position, end: Position) -> (first: Position, last: Position) {
        let first = max(begin, 1)
        return (first, max(end, first))
    }

    /// Takes backup `id` (labelled `label`, empty for scheduled backups) from `source`.
    ///
    /// - Parameters:
    ///   - now: milliseconds since the Unix epoch, recorded as the creation time.
    ///   - progress: called after every batch.
    public func take(
        id: String,
        label: String,
        clusterID: ClusterID,
        from source: some BackupSource,
        now: UInt64,
        progress: @Sendable (BackupProgress) -> Void = { _ in }
    ) async throws -> BackupSummary {
        let (begin, end) = try await source.positions()
        let (first, last) = Self.range(begin: begin, end: end)
        let header = BackupHeader(
            clusterID: clusterID,
            backupID: id,
            label: label,
            createdAtMilliseconds: now,
            firstPosition: first,
            lastPosition: last
        )
        return try await take(header, readingThrough: end, from: source, progress: progress)
    }

    /// Takes the backup `header` describes, reading entries from its first position through
    /// `end` (below its first position for an empty log).
    public func take(
        _ header: BackupHeader,
        readingThrough end: Position,
        from source: some BackupSource,
        progress: @Sendable (BackupProgress) -> Void = { _ in }
    ) async throws -> BackupSummary {
        let writer = try BackupFileWriter(directory: directory, header: header)
        do {
            var next = header.firstPosition
            var stalledSince: ContinuousClock.Instant?
            var pause = Duration.milliseconds(10)
            while next <= end {
                try Task.checkCancellation()
                let batch = try await source.batch(from: next, to: end)
                for entry in batch.entries { try writer.append(position: entry.position, bytes: entry.bytes) }
                if batch.next > next {
                    next = batch.next
                    stalledSince = nil
                    pause = .milliseconds(10)
                    progress(writer.progress(next: next))
                    continue
                }
                // Learned everywhere soon: a replica may not have processed the learned message yet.
                let since = stalledSince ?? ContinuousClock.now
                stalledSince = since
                guard ContinuousClock.now - since < stallLimit else {
                    throw BackupTakeError.stalled(position: next, seconds: Int(stallLimit.components.seconds))
                }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .milliseconds(500))
            }
            let summary = try await writer.finishOffThePool()
            progress(
                BackupProgress(
                    next: next,
                    last: header.lastPosition,
                    entryCount: summary.entryCount,
                    entryBytes: summary.entryBytes,
                    fileBytes: summary.fileSize
                )
            )
            return summary
        } catch {
            writer.abandon()
            throw error
        }
    }
}
