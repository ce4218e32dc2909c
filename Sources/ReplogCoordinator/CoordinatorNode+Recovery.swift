import Logging
import NIOCore
import ReplogBackup
import ReplogConsensus
import ReplogModel
public import ReplogWire

/// Staged recovery on the leading coordinator (Aurora's stage / print / delete / commit /
/// unload): the request handlers, and the shell that carries out ``RecoveryCommit``.
extension CoordinatorNode {
    /// The id of the backup being restored (staged, committing, or a commit interrupted), or nil.
    /// `backup show` reports STATUS_RESTORING for it.
    public var currentRestore: String? { recovery.record?.backupID }

    /// Where a staged recovery stands (for `/status`).
    public var recoveryState: RecoveryState { recovery.state }

    /// While a commit runs (or after one was interrupted) reads stop at the pre-commit end.
    var recoveryReadCap: Position? { recovery.readCap }

    /// Reads below this are answered "truncated, restart from" it: the last commit's first position.
    var recoveryReadFloor: Position { recovery.readFloor }

    /// The answer to a read that a recovery decides alone: below the last commit's first position
    /// "truncated, restart from" it (lagging replicas may not have learned the truncation yet);
    /// past the pre-commit end while a commit runs, nothing yet.
    func recoveryReadAnswer(_ request: ReadRequest) -> Message? {
        let floor = recoveryReadFloor
        if request.from < floor {
            return .error(
                ErrorReply(
                    code: .truncated,
                    value: floor,
                    text: "positions below \(floor) were truncated by a restore; restart from \(floor)"
                )
            )
        }
        if let cap = recoveryReadCap, request.from > cap {
            return .readResponse(ReadResponse(entries: [], next: request.from, end: cap))
        }
        return nil
    }

    func handleRecovery(_ message: Message) async -> Message {
        // A backup is staged on the leader; everything else is answered by the coordinator that
        // holds the stage, leading or not (a commit waits for leadership itself), so that an
        // operator can follow a commit through a lost quorum.
        if case .recoveryStageRequest = message, !coordinator.isLeading {
            return .error(
                ErrorReply(
                    code: .notLeader,
                    text: "this coordinator does not lead; a backup is staged on the leading coordinator"
                )
            )
        }
        // The stage, its write refusal and its read cap live on this coordinator only: another
        // coordinator that runs could serve a half-committed log to readers, or take over and
        // accept writes. So a recovery is staged only while the others are stopped.
        if case .recoveryStageRequest = message, case let others = watch.liveCoordinators(now: now), !others.isEmpty {
            let names = others.map { "\($0.rawValue)" }.joined(separator: ", ")
            return .error(
                ErrorReply(
                    code: .conflict,
                    text: "coordinator(s) \(names) are running: a recovery is staged and committed on one coordinator"
                        + " only; stop the other coordinators, stage and commit (or unload), then start them again"
                )
            )
        }
        let reply: Result<Message, ErrorReply>
        switch message {
        case .recoveryStageRequest(let request): reply = await stage(request)
        case .recoveryUploadRequest(let request): reply = upload(request)
        case .recoveryPrintRequest(let request): reply = printStaged(request)
        case .recoveryDeleteRequest(let request): reply = delete(request)
        case .recoveryStatusRequest: reply = .success(.recoveryStatusResponse(recovery.status()))
        case .recoveryCommitRequest: reply = commit()
        case .recoveryUnloadRequest: reply = unload()
        default: reply = .failure(ErrorReply(code: .invalidRequest, text: "\(message.type) is not a recovery request"))
        }
        recovery.publishState()
        switch reply {
        case .success(let answer): return answer
        case .failure(let error): return .error(error)
        }
    }

    private static var noStage: ErrorReply {
        ErrorReply(code: .notFound, text: "no backup staged: stage one with `replog recovery stage ID|FILE`")
    }

    private func alreadyStaged(_ id: String) -> ErrorReply {
        ErrorReply(
            code: .conflict,
            text: "another backup is already staged (\(id)): inspect it with `replog recovery print`, then commit it"
                + " (`replog recovery commit`) or unload it (`replog recovery unload`) first"
        )
    }

    // MARK: Stage and upload

    private func stage(_ request: RecoveryStageRequest) async -> Result<Message, ErrorReply> {
        // A retry of a request still verifying its backup (its first attempt timed out on the
        // client's side) waits for that one's outcome.
        while request.token != 0, recovery.loading == request.token {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if let record = recovery.record {
            if record.token == request.token && request.token != 0 {
                return .success(.recoveryStatusResponse(recovery.status()))
            }
            return .failure(alreadyStaged(record.backupID))
        }
        if recovery.loading != nil {
            return .failure(ErrorReply(code: .conflict, text: "another backup is already being staged; wait for it"))
        }
        let source: StageSource
        switch (request.backupID.isEmpty, request.uploadID) {
        case (false, 0):
            guard let directory = recovery.backupDirectory else {
                return .failure(
                    ErrorReply(
                        code: .invalidRequest,
                        text: "this coordinator has no --backup-dir, so it holds no backup '\(request.backupID)':"
                            + " stage a backup FILE instead, or restart the coordinator with --backup-dir"
                    )
                )
            }
            do {
                source = .file(try BackupDirectory(path: directory).file(for: request.backupID))
            } catch {
                return .failure(ErrorReply(error))
            }
        case (true, let id) where id != 0:
            guard let upload = recovery.upload, upload.id == id, upload.complete else {
                return .failure(
                    ErrorReply(
                        code: .invalidRequest,
                        text: "upload \(id) is unknown or incomplete: upload the file again"
                    )
                )
            }
            source = upload.source
        default:
            return .failure(
                ErrorReply(
                    code: .invalidRequest,
                    text: "a stage request names exactly one of a backup id and an upload"
                )
            )
        }
        recovery.loading = request.token
        let loaded = await Task.detached { () -> Result<StagedBackup, BackupError> in
            do throws(BackupError) {
                return .success(try StagedBackup.load(source))
            } catch {
                return .failure(error)
            }
        }.value
        recovery.loading = nil
        let staged: StagedBackup
        switch loaded {
        case .success(let value): staged = value
        case .failure(let error):
            if case .notFound = error {
                let directory = recovery.backupDirectory ?? ""
                return .failure(
                    ErrorReply(
                        code: .notFound,
                        text: "no backup '\(request.backupID)' in \(directory): list them with `replog backup list`"
                    )
                )
            }
            return .failure(ErrorReply(error))
        }
        let policy = RestorePolicy(
            staleAfterSeconds: request.staleAfterSeconds == 0 ? 6 * 3600 : request.staleAfterSeconds,
            acceptStale: request.acceptStale,
            allowForeignCluster: request.allowForeignCluster
        )
        do {
            try policy.check(
                staged.header,
                into: configuration.clusterID,
                nowMilliseconds: RecoveryStage.wallClockMilliseconds()
            )
        } catch {
            return .failure(ErrorReply(error))
        }
        let record = StageRecord(backupID: staged.header.backupID, token: request.token)
        if let directory = recovery.directory {
            do {
                if case .file(let path) = source { try directory.adopt(path) }
                try directory.writeRecord(record)
            } catch {
                try? directory.removeStage()
                return .failure(
                    ErrorReply(code: .internal, text: "cannot keep the stage in \(directory.path): \(error)")
                )
            }
        }
        recovery.upload = nil
        recovery.staged = staged
        recovery.record = record
        recovery.message =
            "backup \(record.backupID) is staged"
            + (recovery.directory == nil ? " in memory only (the coordinator has no --backup-dir)" : "")
        logger.notice(
            "recovery staged: client writes are refused until it is committed or unloaded",
            metadata: [
                "recovery/backup": "\(record.backupID)", "recovery/entries": "\(staged.entries.count)",
                "recovery/persisted": "\(recovery.directory != nil)",
            ]
        )
        return .success(.recoveryStatusResponse(recovery.status()))
    }

    private func upload(_ request: RecoveryUploadRequest) -> Result<Message, ErrorReply> {
        if let record = recovery.record { return .failure(alreadyStaged(record.backupID)) }
        guard request.uploadID != 0 else {
            return .failure(ErrorReply(code: .invalidRequest, text: "upload id 0 is reserved"))
        }
        if recovery.upload?.id != request.uploadID {
            guard request.offset == 0 else {
                return .failure(
                    ErrorReply(
                        code: .invalidRequest,
                        text: "upload \(request.uploadID) is unknown here (replaced or lost in a restart):"
                            + " upload the file again"
                    )
                )
            }
            if recovery.loading != nil {
                return .failure(ErrorReply(code: .conflict, text: "another backup is being staged; wait for it"))
            }
            recovery.upload?.discard()
            recovery.upload = nil
            do {
                recovery.upload = try BackupUpload(
                    id: request.uploadID,
                    path: recovery.directory?.uploadPath(request.uploadID)
                )
            } catch {
                return .failure(ErrorReply(code: .internal, text: "cannot start the upload: \(error)"))
            }
        }
        guard let upload = recovery.upload else { return .failure(Self.noStage) }
        do {
            try upload.add(request.chunk, at: request.offset, last: request.last)
        } catch {
            return .failure(ErrorReply(code: .invalidRequest, text: "\(error)"))
        }
        return .success(
            .recoveryUploadResponse(RecoveryUploadResponse(uploadID: upload.id, received: upload.received))
        )
    }

    // MARK: Print and delete

    private func printStaged(_ request: RecoveryPrintRequest) -> Result<Message, ErrorReply> {
        guard let staged = recovery.staged else { return .failure(Self.noStage) }
        let page = staged.page(
            from: request.from,
            to: request.to,
            grep: Array(request.grep.utf8),
            maxEntries: Int(max(1, request.maxEntries)),
            // Stay well inside the 64 MiB frame.
            maxBytes: Int(min(request.maxBytes, 32 << 20))
        )
        return .success(
            .recoveryPrintResponse(
                RecoveryPrintResponse(
                    next: page.next,
                    more: page.more,
                    entries: page.entries.map { Entry(position: $0.position, bytes: $0.bytes) }
                )
            )
        )
    }

    private func delete(_ request: RecoveryDeleteRequest) -> Result<Message, ErrorReply> {
        guard var staged = recovery.staged, var record = recovery.record else { return .failure(Self.noStage) }
        guard recovery.state != .committing else {
            return .failure(ErrorReply(code: .conflict, text: "a commit is running: the staged copy cannot change now"))
        }
        let removed: [BackupEntry]
        switch (request.positions.isEmpty, request.grep.isEmpty) {
        case (false, true):
            do {
                removed = try staged.delete(positions: request.positions)
            } catch {
                return .failure(ErrorReply(code: .invalidRequest, text: ErrorReply.clamp("\(error)")))
            }
        case (true, false):
            removed = staged.delete(matching: Array(request.grep.utf8))
        default:
            return .failure(
                ErrorReply(code: .invalidRequest, text: "delete names positions or a --grep text, not both")
            )
        }
        record.deleted = staged.deleted
        do {
            try recovery.directory?.writeRecord(record)
        } catch {
            return .failure(
                ErrorReply(code: .internal, text: "cannot record the deletion: \(error); nothing was deleted")
            )
        }
        recovery.staged = staged
        recovery.record = record
        if !removed.isEmpty {
            recovery.message = "deleted \(removed.count) entries from the staged copy"
            logger.notice(
                "deleted entries from the staged recovery",
                metadata: ["recovery/deleted": "\(removed.count)", "recovery/remaining": "\(staged.entries.count)"]
            )
        }
        return .success(
            .recoveryDeleteResponse(
                RecoveryDeleteResponse(
                    removedCount: UInt64(removed.count),
                    remainingCount: UInt64(staged.entries.count),
                    removed: removed.prefix(RecoveryDeleteResponse.listLimit).map { entry in
                        RemovedEntry(
                            position: entry.position,
                            size: UInt32(entry.bytes.readableBytes),
                            head: entry.bytes.getSlice(
                                at: entry.bytes.readerIndex,
                                length: min(RemovedEntry.headLimit, entry.bytes.readableBytes)
                            )!
                        )
                    }
                )
            )
        )
    }

    // MARK: Unload

    private func unload() -> Result<Message, ErrorReply> {
        guard let record = recovery.record else {
            recovery.upload?.discard()
            recovery.upload = nil
            var status = recovery.status()
            status.message = "nothing was staged"
            return .success(.recoveryStatusResponse(status))
        }
        switch recovery.state {
        case .committing:
            return .failure(
                ErrorReply(code: .conflict, text: "a commit is running; follow it with `replog recovery status`")
            )
        case .interrupted:
            return .failure(
                ErrorReply(
                    code: .conflict,
                    text: "a commit of backup \(record.backupID) started writing: staged entries may be in the log"
                        + " after position \(record.readCap ?? 0), hidden from readers. Unloading would show them;"
                        + " run `replog recovery commit` again to finish instead"
                )
            )
        case .none, .staged:
            break
        }
        do {
            try recovery.directory?.removeStage()
        } catch {
            return .failure(ErrorReply(code: .internal, text: "cannot remove the stage: \(error)"))
        }
        recovery.staged = nil
        recovery.record = nil
        recovery.commit = nil
        recovery.message = "unloaded backup \(record.backupID); client writes are served again"
        logger.notice(
            "recovery unloaded: client writes are served again",
            metadata: ["recovery/backup": "\(record.backupID)"]
        )
        return .success(.recoveryStatusResponse(recovery.status()))
    }

    // MARK: Commit

    private func commit() -> Result<Message, ErrorReply> {
        guard let staged = recovery.staged, let record = recovery.record else { return .failure(Self.noStage) }
        if recovery.state == .committing { return .success(.recoveryStatusResponse(recovery.status())) }
        recovery.commit = RecoveryCommit(
            entrySizes: staged.entries.map(\.bytes.readableBytes),
            readCap: record.readCap,
            configuration: configuration.recoveryCommit,
            now: ContinuousClock.now - recovery.epoch
        )
        recovery.message = "committing backup \(record.backupID)"
        logger.notice(
            "recovery commit started",
            metadata: ["recovery/backup": "\(record.backupID)", "recovery/entries": "\(staged.entries.count)"]
        )
        feedCommit(.tick)
        return .success(.recoveryStatusResponse(recovery.status()))
    }

    /// Called for every completed core operation; true when it was a commit write.
    func recoveryOperationCompleted(_ id: OperationID, _ result: Result<OperationResult, ErrorReply>) -> Bool {
        guard let step = recovery.steps.removeValue(forKey: id) else { return false }
        feedCommit(.completed(step, result))
        return true
    }

    /// Runs the commit machine on `event`. Carrying out a directive can complete an operation at
    /// once (and so produce another event): such events wait in a queue until the directives of
    /// the current one are all carried out, so the machine never runs inside itself.
    private func feedCommit(_ event: RecoveryStage.CommitEvent) {
        recovery.events.append(event)
        guard !recovery.feeding else { return }
        recovery.feeding = true
        defer { recovery.feeding = false }
        while !recovery.events.isEmpty {
            let event = recovery.events.removeFirst()
            guard var machine = recovery.commit, !machine.isOver else { continue }
            let now = ContinuousClock.now - recovery.epoch
            let directives: [RecoveryCommit.Directive]
            switch event {
            case .tick:
                let view = RecoveryCommit.View(
                    leading: coordinator.isLeading,
                    outstanding: coordinator.outstandingOperations,
                    learnedThrough: coordinator.learnedThrough
                )
                directives = machine.tick(now: now, view: view)
            case .completed(let step, let result):
                directives = machine.completed(step, result, now: now)
            }
            recovery.commit = machine
            for directive in directives { carryOutCommit(directive) }
            recovery.publishState()
        }
    }

    private func carryOutCommit(_ directive: RecoveryCommit.Directive) {
        switch directive {
        case .holdReads(let position):
            guard var record = recovery.record else { return }
            record.readCap = position
            do {
                try recovery.directory?.writeRecord(record)
            } catch {
                // Without the hold on disk a restart would show a half-written commit: do not start.
                recovery.commit = nil
                recovery.message = "the commit did not start: cannot record it in the staging directory: \(error)"
                logger.error("recovery commit cannot start", metadata: ["recovery/error": "\(error)"])
                return
            }
            recovery.record = record
            logger.notice("recovery commit holds readers", metadata: ["recovery/read-cap": "\(position)"])
        case .writeFence(let step):
            enqueueCommitWrite(step) { $0.truncate(to: 0, id: $1) }
        case .append(let step, let range):
            guard let staged = recovery.staged else { return }
            recovery.metrics.entriesWritten.increment(by: Int64(range.count))
            let entries = staged.entries[range].map(\.bytes)
            enqueueCommitWrite(step) { $0.append(entries, id: $1) }
        case .truncate(let step, let position):
            enqueueCommitWrite(step) { $0.truncate(to: position, id: $1) }
        case .wake(let delay):
            schedule(after: delay) { node in await node.commitWake() }
        case .finished(let restartFrom, let last):
            finishCommit(restartFrom: restartFrom, last: last)
        case .stopped(let reason):
            recovery.metrics.commitsStopped.increment()
            let held = recovery.record?.readCap != nil
            recovery.message =
                "the commit stopped: \(reason). "
                + (held
                    ? "Readers stay at position \(recovery.record?.readCap ?? 0) and writes stay refused:"
                        + " run `replog recovery commit` again once the cluster is healthy"
                    : "Nothing was written; the backup is still staged")
            logger.error("recovery commit stopped", metadata: ["recovery/reason": "\(reason)"])
        }
    }

    private func commitWake() {
        feedCommit(.tick)
    }

    private func enqueueCommitWrite(
        _ step: RecoveryCommit.Step,
        _ start: (inout Coordinator, OperationID) -> [CoordinatorDirective]
    ) {
        guard recovery.commit != nil else { return }
        let id = newOperation()
        recovery.steps[id] = step
        carryOut(start(&coordinator, id))
    }

    private func finishCommit(restartFrom: Position, last: Position) {
        guard let record = recovery.record else { return }
        let commit = CommitRecord(backupID: record.backupID, restartFrom: restartFrom, last: last)
        do {
            try recovery.directory?.writeCommit(commit)
            try recovery.directory?.removeStage()
        } catch {
            // The log is already restored; only the bookkeeping failed. Say so loudly.
            logger.error(
                "recovery committed but the staging directory could not be updated",
                metadata: ["recovery/error": "\(error)"]
            )
        }
        recovery.metrics.commitsFinished.increment()
        recovery.lastCommit = commit
        recovery.staged = nil
        recovery.record = nil
        recovery.message =
            "committed backup \(record.backupID): the log now holds its entries at \(restartFrom)...\(last);"
            + " readers of older positions are told to restart from \(restartFrom)"
        logger.notice(
            "recovery committed; client writes are served again",
            metadata: [
                "recovery/backup": "\(record.backupID)", "recovery/restart-from": "\(restartFrom)",
                "recovery/last": "\(last)",
            ]
        )
    }
}
