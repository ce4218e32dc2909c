import CoreMetrics
import NIOCore
import ReplogBackup
import ReplogConsensus
import ReplogModel
import ReplogWire

#if canImport(Glibc)
    import Glibc
#endif

/// What a coordinator holds of a staged recovery: the staged copy and its record, an upload in
/// progress, the commit under way, and the holds on readers (the pre-commit end while a commit
/// runs; the restart position after one finished).
struct RecoveryStage {
    /// Where the stage is persisted; nil without `--backup-dir` (held in memory only).
    let directory: StagingDirectory?
    let backupDirectory: String?
    var staged: StagedBackup?
    var record: StageRecord?
    /// The token of a stage request that is verifying its backup: the slot is taken.
    var loading: UInt64?
    var upload: BackupUpload?
    var commit: RecoveryCommit?
    /// Commit writes in flight, by the core operation that carries them.
    var steps: [OperationID: RecoveryCommit.Step] = [:]
    /// Commit events waiting while directives are being carried out (see `feedCommit`).
    var events: [CommitEvent] = []
    var feeding = false
    let epoch = ContinuousClock.now
    var lastCommit: CommitRecord?
    /// What happened last, for `recovery status`.
    var message = ""

    enum CommitEvent {
        case tick
        case completed(RecoveryCommit.Step, Result<OperationResult, ErrorReply>)
    }

    let metrics: RecoveryMetrics

    /// Loads a stage persisted under `backupDirectory`, so that a restart neither forgets it nor
    /// lets writes or reads past an interrupted commit through.
    init(backupDirectory: String?, metricsFactory: any MetricsFactory) throws(BackupError) {
        self.backupDirectory = backupDirectory
        metrics = RecoveryMetrics(factory: metricsFactory)
        guard let backupDirectory else {
            directory = nil
            publishState()
            return
        }
        let directory = try StagingDirectory(backupDirectory: backupDirectory)
        self.directory = directory
        try directory.removeLeftovers()
        lastCommit = try directory.readCommit()
        guard let record = try directory.readRecord() else {
            publishState()
            return
        }
        var staged = try StagedBackup.load(from: BackupFileReader(path: directory.stagedBackupPath))
        do {
            _ = try staged.delete(positions: record.deleted)
        } catch {
            throw .corrupt(path: directory.path + "/stage", offset: 0, reason: "\(error)")
        }
        self.staged = staged
        self.record = record
        message =
            record.readCap == nil
            ? "backup \(record.backupID) is staged (kept across a restart)"
            : "a commit of backup \(record.backupID) was interrupted by a restart: run `replog recovery commit`"
                + " again to finish it"
        publishState()
    }

    var state: RecoveryState {
        guard record != nil else { return .none }
        if commit.map({ !$0.isOver }) == true { return .committing }
        return record?.readCap == nil ? .staged : .interrupted
    }

    /// Readers are served up to here while a commit runs or after one was interrupted.
    var readCap: Position? { record?.readCap }

    /// Readers of positions below this are told to restart here (lagging replicas may not have
    /// learned the commit's truncation yet).
    var readFloor: Position { lastCommit?.restartFrom ?? 0 }

    /// Reports the state to the metrics (call after every change).
    func publishState() {
        metrics.state.record(Int64(state.rawValue))
    }

    /// Why client writes are refused right now, or nil; counts the refusals.
    func refuseWrite() -> ErrorReply? {
        guard let refusal = writeRefusal else { return nil }
        metrics.refusedWrites.increment()
        return refusal
    }

    /// Why client writes are refused right now, or nil.
    var writeRefusal: ErrorReply? {
        guard let record else { return nil }
        let text: String
        switch state {
        case .none:
            return nil
        case .staged:
            text =
                "a recovery is staged (backup \(record.backupID)): writes are refused until it is committed"
                + " (`replog recovery commit`) or unloaded (`replog recovery unload`)"
        case .committing:
            text = "a recovery of backup \(record.backupID) is being committed: writes are refused until it finishes"
        case .interrupted:
            text =
                "a commit of backup \(record.backupID) was interrupted: writes are refused until"
                + " `replog recovery commit` is run again and finishes"
        }
        return ErrorReply(code: .recoveryInProgress, text: text)
    }

    func status() -> RecoveryStatusResponse {
        var response = RecoveryStatusResponse(
            state: state,
            persisted: directory != nil,
            restartFrom: lastCommit?.restartFrom ?? 0,
            committedLast: lastCommit?.last ?? 0,
            message: ErrorReply.clamp(message)
        )
        if let staged {
            let header = staged.header
            response.backupID = header.backupID
            response.label = header.label
            response.clusterID = header.clusterID
            response.createdAtMilliseconds = header.createdAtMilliseconds
            response.firstPosition = header.firstPosition
            response.lastPosition = header.lastPosition
            response.entryCount = UInt64(staged.entries.count)
            response.entryBytes = staged.entryBytes
            response.deletedCount = UInt64(staged.deletedCount)
        }
        response.readCap = readCap ?? 0
        response.written = UInt64(commit?.written ?? 0)
        return response
    }

    /// Milliseconds since the Unix epoch, for the staleness check.
    static func wallClockMilliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }
}

/// The metrics of staged recovery, labelled `replog_coordinator_recovery_*`.
struct RecoveryMetrics: Sendable {
    /// 0 nothing staged, 1 staged, 2 committing, 3 a commit was interrupted.
    let state: Gauge
    /// Client writes refused because a recovery is staged.
    let refusedWrites: Counter
    /// Commits that finished, and that stopped before finishing.
    let commitsFinished: Counter
    let commitsStopped: Counter
    /// Staged entries written by commits (every attempt's).
    let entriesWritten: Counter

    init(factory: any MetricsFactory) {
        state = Gauge(label: "replog_coordinator_recovery_state", factory: factory)
        refusedWrites = Counter(label: "replog_coordinator_recovery_refused_writes", factory: factory)
        commitsFinished = Counter(
            label: "replog_coordinator_recovery_commits",
            dimensions: [("outcome", "finished")],
            factory: factory
        )
        commitsStopped = Counter(
            label: "replog_coordinator_recovery_commits",
            dimensions: [("outcome", "stopped")],
            factory: factory
        )
        entriesWritten = Counter(label: "replog_coordinator_recovery_entries_written", factory: factory)
    }
}

extension ErrorReply {
    /// The reply for a backup that cannot be staged.
    init(_ error: BackupError) {
        let code: ErrorCode
        switch error {
        case .notFound: code = .notFound
        case .notABackup, .unsupportedFormat, .truncated, .corrupt, .checksumMismatch: code = .corruption
        case .io, .alreadyExists: code = .internal
        case .invalidLabel, .invalidID, .foreignCluster, .stale: code = .invalidRequest
        }
        self.init(code: code, text: Self.clamp("\(error)"))
    }

    /// Texts are limited to 4,096 bytes on the wire.
    static func clamp(_ text: String) -> String {
        text.utf8.count <= 4000 ? text : String(decoding: Array(text.utf8.prefix(4000)), as: UTF8.self) + "..."
    }
}
