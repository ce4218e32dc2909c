public import ReplogModel

/// Where a backup's entries come from: a running log, read through a client or locally.
public protocol BackupSource: Sendable {
    /// The log's first and last positions right now.
    func positions() async throws -> (begin: Position, end: Position)
    /// The learned entries of `from ... to`, in position order.
    func entries(from: Position, to: Position) -> AsyncThrowingStream<BackupEntry, any Error>
}

/// Takes a consistent backup of a running log without stopping anything.
///
/// Consistency comes from the log itself: the backup covers `begin ... end` as they were when
/// it started, and learned entries never change, so the entries read while writes go on are
/// exactly the log's content up to that fixed position. A truncation that overtakes the read
/// fails the backup (and removes its temporary file) rather than producing a partial one.
public struct BackupTaker: Sendable {
    public var directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// Takes backup `id` (labelled `label`, empty for scheduled backups) from `source`.
    ///
    /// - Parameters:
    ///   - now: milliseconds since the Unix epoch, recorded as the creation time.
    ///   - progress: called now and then with the last position written and the backup's end.
    public func take(
        id: String,
        label: String,
        clusterID: ClusterID,
        from source: some BackupSource,
        now: UInt64,
        progress: @Sendable (_ position: Position, _ end: Position) -> Void = { _, _ in }
    ) async throws -> BackupSummary {
        let (begin, end) = try await source.positions()
        let first = max(begin, 1)
        let header = BackupHeader(
            clusterID: clusterID,
            backupID: id,
            label: label,
            createdAtMilliseconds: now,
            firstPosition: first,
            lastPosition: max(end, first)
        )
        let writer = try BackupFileWriter(directory: directory, header: header)
        do {
            var written = 0
            if end >= first {
                for try await entry in source.entries(from: first, to: end) {
                    try writer.append(position: entry.position, bytes: entry.bytes)
                    written += 1
                    if written % 10_000 == 0 { progress(entry.position, end) }
                }
            }
            let summary = try writer.finish()
            progress(end, end)
            return summary
        } catch {
            writer.abandon()
            throw error
        }
    }
}
