public import ReplogModel

/// Where a restore writes: a running, initialized log.
public protocol BackupSink: Sendable {
    /// The cluster's identity, for the foreign-cluster check.
    func clusterID() async throws -> ClusterID
    /// The log's first and last positions right now.
    func positions() async throws -> (begin: Position, end: Position)
    /// Appends `entries` at consecutive positions; returns them.
    func append(_ entries: [BackupEntry]) async throws -> ClosedRange<Position>
}

/// What a rehydrate did.
public struct RehydrateResult: Sendable, Hashable {
    public var backup: BackupSummary
    /// Where the restored entries landed in the new log (nil when the backup was empty).
    public var positions: ClosedRange<Position>?
}

/// Why a restore refused to start.
public enum RehydrateError: Error, Sendable, Hashable, CustomStringConvertible {
    case notEmpty(begin: Position, end: Position)

    public var description: String {
        switch self {
        case .notEmpty(let begin, let end):
            return "refusing to restore into a non-empty log (it holds positions \(begin)...\(end)):"
                + " restore into a new cluster, or wipe and `replog initialize` every replica first"
        }
    }
}

/// Writes a backup into an empty log through ordinary quorum writes (Aurora's recovery tool),
/// in batches. The whole file is verified before anything is written.
///
/// Positions: the log is empty, so the restored entries take positions `1, 2, 3...` in the
/// backup's order; an entry's new position is its rank in the backup, not its old position.
public struct Rehydrator: Sendable {
    public var policy: RestorePolicy
    public var batchSize: Int
    /// Entry bytes per append at most (one entry larger than this goes alone): a batch of large
    /// entries must stay far below the 64 MiB frame limit.
    public var maxBatchBytes: Int

    public init(policy: RestorePolicy = RestorePolicy(), batchSize: Int = 256, maxBatchBytes: Int = 8 << 20) {
        precondition(batchSize > 0, "the batch size must be positive")
        self.policy = policy
        self.batchSize = batchSize
        self.maxBatchBytes = maxBatchBytes
    }

    public func rehydrate(
        file path: String,
        into sink: some BackupSink,
        nowMilliseconds: UInt64,
        progress: @Sendable (_ restored: UInt64, _ total: UInt64) -> Void = { _, _ in }
    ) async throws -> RehydrateResult {
        // Check everything before the first write: a damaged or refused backup leaves the
        // target untouched.
        let summary = try BackupFileReader.verify(path: path)
        try policy.check(summary.header, into: try await sink.clusterID(), nowMilliseconds: nowMilliseconds)
        let (begin, end) = try await sink.positions()
        guard end == 0 || end < begin else { throw RehydrateError.notEmpty(begin: begin, end: end) }

        let reader = try BackupFileReader(path: path)
        var batch: [BackupEntry] = []
        var batchBytes = 0
        var restored: UInt64 = 0
        var firstPosition: Position?
        var lastPosition: Position?
        func flush() async throws {
            guard !batch.isEmpty else { return }
            let positions = try await sink.append(batch)
            firstPosition = firstPosition ?? positions.lowerBound
            lastPosition = positions.upperBound
            restored += UInt64(batch.count)
            batch.removeAll(keepingCapacity: true)
            batchBytes = 0
            progress(restored, summary.entryCount)
        }
        while let entry = try reader.next() {
            if batchBytes + entry.bytes.readableBytes > maxBatchBytes { try await flush() }
            batch.append(entry)
            batchBytes += entry.bytes.readableBytes
            if batch.count >= batchSize { try await flush() }
        }
        try await flush()
        return RehydrateResult(
            backup: summary,
            positions: firstPosition.flatMap { first in lastPosition.map { first...$0 } }
        )
    }
}
