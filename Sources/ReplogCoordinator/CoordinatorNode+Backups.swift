import ReplogBackup
import ReplogModel
import ReplogWire

extension CoordinatorNode {
    /// Starts the backup service when the configuration asks for backups.
    func startBackups() async {
        guard backups == nil, let settings = configuration.backups else { return }
        let service = BackupService(
            settings: settings,
            clusterID: configuration.clusterID,
            source: CoordinatorBackupSource(node: self),
            leading: { [weak self] in await self?.isLeading ?? false },
            logger: logger,
            metricsFactory: metricsFactory
        )
        backups = service
        await service.start()
    }

    /// Answers a backup request: only the leading coordinator keeps and serves backups.
    func backupRequest(_ message: Message) async -> Message {
        guard isLeading else {
            return .error(
                ErrorReply(
                    code: .notLeader,
                    text: "this coordinator does not lead; backups are taken and kept by the leading coordinator"
                        + " (`replog status` shows which one leads)"
                )
            )
        }
        guard let backups else {
            return .error(
                ErrorReply(
                    code: .invalidRequest,
                    text: "this coordinator keeps no backups: it was started without --backup-dir;"
                        + " restart it with --backup-dir DIR (and optionally --backup-interval and"
                        + " --max-saved-backups) to take and serve backups"
                )
            )
        }
        return markRestoring(await backups.handle(message))
    }

    /// The backup being restored (from its stage through the end of its commit, an interrupted
    /// commit included) is STATUS_RESTORING, whatever the backup service knows of its file.
    private func markRestoring(_ answer: Message) -> Message {
        guard let restoring = currentRestore else { return answer }
        func mark(_ info: BackupInfo) -> BackupInfo {
            guard info.id == restoring else { return info }
            var info = info
            info.status = .restoring
            return info
        }
        switch answer {
        case .backupShowResponse(let info): return .backupShowResponse(mark(info))
        case .backupListResponse(var list):
            list.backups = list.backups.map(mark)
            return .backupListResponse(list)
        default: return answer
        }
    }

    /// The log's first position and the highest position learned in order: a backup covers
    /// learned entries only, so it never waits on a write still in flight. While a recovery
    /// commit holds readers, so does a backup (it copies the log as readers see it).
    func backupPositions() async throws -> (begin: Position, end: Position) {
        switch await positions() {
        case .positionsResponse(let response):
            return (response.begin, min(learnedThrough, recoveryReadCap ?? Position.max))
        case .error(let reply): throw reply
        default: throw ErrorReply(code: .internal, text: "positions gave an unexpected answer")
        }
    }

    /// A batch of learned entries, read from the replicas as client reads are.
    func backupBatch(from: Position, to: Position) async throws -> BackupBatch {
        let request = ReadRequest(from: from, to: to, maxEntries: 65_536, maxBytes: 8 << 20)
        switch await read(request) {
        case .readResponse(let response):
            return BackupBatch(
                entries: response.entries.map { BackupEntry(position: $0.position, bytes: $0.bytes) },
                next: response.next
            )
        case .error(let reply): throw reply
        default: throw ErrorReply(code: .internal, text: "read gave an unexpected answer")
        }
    }
}

/// The coordinator's own view of the log as a backup source: positions from the replicas, the
/// end from what this coordinator learned, entries read from the replicas' learned actions
/// (no client connection back to itself).
struct CoordinatorBackupSource: BackupSource {
    weak let node: CoordinatorNode?

    func positions() async throws -> (begin: Position, end: Position) {
        guard let node else { throw ErrorReply(code: .unavailable, text: "the coordinator is stopping") }
        return try await node.backupPositions()
    }

    func batch(from: Position, to: Position) async throws -> BackupBatch {
        guard let node else { throw ErrorReply(code: .unavailable, text: "the coordinator is stopping") }
        return try await node.backupBatch(from: from, to: to)
    }
}
