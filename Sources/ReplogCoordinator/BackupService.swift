import CoreMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ReplogBackup
import ReplogModel
import ReplogNet
import ReplogWire

#if canImport(Glibc)
    import Glibc
#endif

/// What a coordinator's backups are set to (`--backup-dir`, `--backup-interval`,
/// `--max-saved-backups`).
public struct BackupSettings: Sendable, Hashable {
    /// Where the backup files are kept.
    public var directory: String
    /// The time between scheduled backups. Default: 1 hour.
    public var interval: Duration
    /// Scheduled backups kept; older ones are deleted. Labelled backups are never deleted by it.
    public var maxSaved: Int

    public init(directory: String, interval: Duration = .seconds(3600), maxSaved: Int = 48) {
        self.directory = directory
        self.interval = interval
        self.maxSaved = maxSaved
    }

    public var problem: String? {
        if interval < .milliseconds(100) { return "--backup-interval must be at least 100ms" }
        if maxSaved < 1 { return "--max-saved-backups must be at least 1" }
        return nil
    }
}

/// The leading coordinator's backups: scheduled ones (decided by ``BackupSchedule``), on-demand
/// ones, and the requests that list, show, delete and fetch them.
///
/// READY backups are the files in the directory (they outlive the process); backups being taken
/// and backups that failed are known to this process only.
actor BackupService {
    private let settings: BackupSettings
    private let directory: BackupDirectory
    private let clusterID: ClusterID
    private let source: any BackupSource
    private let leading: @Sendable () async -> Bool
    private let logger: Logger
    private let metrics: BackupMetrics
    private let clock: @Sendable () -> UInt64
    private var schedule: BackupSchedule
    /// Headers and trailers of the files read so far, by id.
    private var described: [String: BackupDescription] = [:]
    private var running: [String: Running] = [:]
    private var failed: [String: BackupInfo] = [:]
    private var generator = SystemRandomNumberGenerator()
    private var loop: Task<Void, Never>?
    private var stopped = false
    /// The largest chunk one fetch answer carries.
    static let maxFetchChunk = 8 << 20
    /// Failed backups remembered for `show` (the oldest are forgotten first).
    static let rememberedFailures = 64

    private struct Running {
        var header: BackupHeader
        var scheduled: Bool
        var progress: ProgressBox
        var task: Task<Void, Never>
    }

    init(
        settings: BackupSettings,
        clusterID: ClusterID,
        source: any BackupSource,
        leading: @escaping @Sendable () async -> Bool,
        logger: Logger,
        metricsFactory: any MetricsFactory,
        clock: @escaping @Sendable () -> UInt64 = BackupService.wallClockMilliseconds
    ) {
        self.settings = settings
        self.directory = BackupDirectory(path: settings.directory)
        self.clusterID = clusterID
        self.source = source
        self.leading = leading
        var logger = logger
        logger[metadataKey: "backup/dir"] = "\(settings.directory)"
        self.logger = logger
        self.metrics = BackupMetrics(factory: metricsFactory)
        self.clock = clock
        self.schedule = BackupSchedule(
            intervalMilliseconds: Self.milliseconds(settings.interval),
            now: clock(),
            lastScheduledAt: nil
        )
    }

    /// Cleans up after a crash, reads what the directory holds and starts the schedule.
    func start() {
        do {
            for name in try directory.removeLeftovers() {
                logger.notice("removed an unfinished backup file left by a crash", metadata: ["backup/file": "\(name)"])
            }
        } catch {
            logger.error("cannot clean up the backup directory", metadata: ["backup/error": "\(error)"])
        }
        let ready = readyBackups()
        let newestScheduled = ready.filter { BackupID.isScheduled($0.header.backupID) }
            .map(\.header.createdAtMilliseconds).max()
        schedule = BackupSchedule(
            intervalMilliseconds: Self.milliseconds(settings.interval),
            now: clock(),
            lastScheduledAt: newestScheduled
        )
        updateGauges(ready)
        logger.notice(
            "backups enabled",
            metadata: [
                "backup/interval": "\(settings.interval)", "backup/max-saved": "\(settings.maxSaved)",
                "backup/ready": "\(ready.count)",
            ]
        )
        let period = min(Duration.seconds(1), settings.interval / 4)
        loop = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: period)
                guard let self, !Task.isCancelled else { return }
                await self.tick()
            }
        }
    }

    /// Stops the schedule and every backup being taken (their temporary files are removed).
    func stop() async {
        stopped = true
        loop?.cancel()
        loop = nil
        let tasks = running.values.map(\.task)
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
    }

    // MARK: The schedule

    private func tick() async {
        let leading = await self.leading()
        let existing = Set(described.keys).union(running.keys).union((try? directory.ids()) ?? [])
        if case .take(let id)? = schedule.tick(now: clock(), leading: leading, existing: existing) {
            do {
                _ = try await begin(id: id, label: "", scheduled: true)
            } catch {
                record(failureOf: id, header: nil, reason: Self.reason(error), scheduled: true)
            }
        }
        updateGauges(readyBackups())
    }

    // MARK: Requests

    func handle(_ message: Message) async -> Message {
        do {
            switch message {
            case .backupCreateRequest(let request):
                return .backupCreateResponse(try await create(label: request.label))
            case .backupListRequest(let request):
                return .backupListResponse(BackupListResponse(backups: list(label: request.label)))
            case .backupShowRequest(let request):
                return .backupShowResponse(try show(request.id))
            case .backupDeleteRequest(let request):
                try delete(request.id)
                return .backupDeleteResponse(request)
            case .backupFetchRequest(let request):
                return .backupFetchResponse(try await fetch(request))
            default:
                return .error(ErrorReply(code: .invalidRequest, text: "\(message.type) is not a backup request"))
            }
        } catch let reply as ErrorReply {
            return .error(reply)
        } catch {
            return .error(ErrorReply(code: .internal, text: "\(error)"))
        }
    }

    private func create(label text: String) async throws -> BackupInfo {
        let label: BackupLabel
        do {
            label = try BackupLabel(text)
        } catch {
            throw ErrorReply(code: .invalidRequest, text: "\(error)")
        }
        let id = BackupID.make(label: label, using: &generator)
        do {
            return try await begin(id: id, label: label.value, scheduled: false)
        } catch let reply as ErrorReply {
            throw ErrorReply(code: reply.code, text: "cannot start backup \(id): \(reply.text)")
        }
    }

    private func list(label: String) -> [BackupInfo] {
        // A file renamed into place whose backup is not recorded as finished yet is still BACKING_UP.
        var infos = readyBackups().filter { running[$0.header.backupID] == nil }.map(info(ready:))
        infos += running.values.map(info(running:))
        infos += failed.values
        return infos.filter { label.isEmpty || $0.label == label }
            .sorted { ($0.createdAtMilliseconds, $0.id) < ($1.createdAtMilliseconds, $1.id) }
    }

    private func show(_ id: String) throws -> BackupInfo {
        try validate(id)
        if let running = running[id] { return info(running: running) }
        if let failure = failed[id] { return failure }
        return info(ready: try describe(id))
    }

    private func delete(_ id: String) throws {
        try validate(id)
        if running[id] != nil {
            throw ErrorReply(
                code: .conflict,
                text: "backup \(id) is still being taken; delete it once `replog backup show \(id)` reports"
                    + " STATUS_READY or STATUS_ERROR"
            )
        }
        if failed.removeValue(forKey: id) != nil {
            logger.notice("failed backup forgotten", metadata: ["backup/id": "\(id)"])
            return
        }
        do {
            try directory.delete(id)
        } catch .notFound {
            throw notFound(id)
        } catch {
            throw ErrorReply(code: .internal, text: "\(error)")
        }
        described[id] = nil
        logger.notice("backup deleted", metadata: ["backup/id": "\(id)"])
        updateGauges(readyBackups())
    }

    private func fetch(_ request: BackupFetchRequest) async throws -> BackupFetchResponse {
        try validate(request.id)
        if running[request.id] != nil {
            throw ErrorReply(
                code: .conflict,
                text: "backup \(request.id) is still being taken; fetch it once it is STATUS_READY"
            )
        }
        if let failure = failed[request.id] {
            throw ErrorReply(
                code: .conflict,
                text: "backup \(request.id) failed (\(failure.reason)); there is nothing to fetch"
            )
        }
        guard request.maxBytes > 0 else {
            throw ErrorReply(code: .invalidRequest, text: "a fetch must ask for at least one byte (maxBytes is 0)")
        }
        let size = try describe(request.id).fileSize
        guard request.offset <= size else {
            throw ErrorReply(
                code: .invalidRequest,
                text: "offset \(request.offset) is beyond the end of backup \(request.id) (\(size) bytes)"
            )
        }
        let chunk = min(Int(request.maxBytes), Self.maxFetchChunk)
        let read: (bytes: ByteBuffer, size: UInt64)
        do {
            read = try await directory.readOffThePool(request.id, offset: request.offset, maxBytes: chunk)
        } catch BackupError.notFound {
            throw notFound(request.id)
        } catch {
            throw ErrorReply(code: .internal, text: "cannot read backup \(request.id): \(error)")
        }
        return BackupFetchResponse(offset: request.offset, size: read.size, data: read.bytes)
    }

    // MARK: Taking backups

    /// Fixes the backup's range and starts writing it; returns its first info.
    private func begin(id: String, label: String, scheduled: Bool) async throws -> BackupInfo {
        let (begin, end) = try await source.positions()
        guard !stopped else { throw ErrorReply(code: .unavailable, text: "the coordinator is stopping") }
        let (first, last) = BackupTaker.range(begin: begin, end: end)
        let header = BackupHeader(
            clusterID: clusterID,
            backupID: id,
            label: label,
            createdAtMilliseconds: clock(),
            firstPosition: first,
            lastPosition: last
        )
        let progress = ProgressBox()
        let taker = BackupTaker(directory: settings.directory)
        let source = self.source
        let started = ContinuousClock.now
        let task = Task {
            let result: Result<BackupSummary, any Error>
            do {
                result = .success(
                    try await taker.take(header, readingThrough: end, from: source) { progress.set($0) }
                )
            } catch {
                result = .failure(error)
            }
            self.finished(id, result, elapsed: ContinuousClock.now - started)
        }
        running[id] = Running(header: header, scheduled: scheduled, progress: progress, task: task)
        logger.info(
            "backup started",
            metadata: [
                "backup/id": "\(id)", "backup/kind": "\(scheduled ? "scheduled" : "on demand")",
                "backup/first": "\(first)", "backup/last": "\(last)",
            ]
        )
        return info(running: running[id]!)
    }

    private func finished(_ id: String, _ result: Result<BackupSummary, any Error>, elapsed: Duration) {
        guard let run = running.removeValue(forKey: id) else { return }
        switch result {
        case .success(let summary):
            described[id] = BackupDescription(summary)
            metrics.succeeded.increment()
            logger.notice(
                "backup ready",
                metadata: [
                    "backup/id": "\(id)", "backup/entries": "\(summary.entryCount)",
                    "backup/bytes": "\(summary.fileSize)", "backup/sha256": "\(summary.sha256.hexString)",
                    "backup/seconds": "\(Self.seconds(elapsed))",
                ]
            )
            if run.scheduled {
                for action in schedule.finished(id, succeeded: true, now: clock()) where action == .applyRetention {
                    applyRetention()
                }
            }
        case .failure(let error):
            record(failureOf: id, header: run.header, reason: Self.reason(error), scheduled: run.scheduled)
        }
        updateGauges(readyBackups())
    }

    private func record(failureOf id: String, header: BackupHeader?, reason: String, scheduled: Bool) {
        metrics.failed.increment()
        logger.error("backup failed", metadata: ["backup/id": "\(id)", "backup/reason": "\(reason)"])
        if scheduled { _ = schedule.finished(id, succeeded: false, now: clock()) }
        failed[id] = BackupInfo(
            id: id,
            label: header?.label ?? "",
            status: .error,
            // Cut to what the wire carries; decoding mends a character cut in half.
            reason: String(decoding: reason.utf8.prefix(WireLimits.maxErrorTextLength - 4), as: UTF8.self),
            createdAtMilliseconds: header?.createdAtMilliseconds ?? clock(),
            firstPosition: header?.firstPosition ?? 0,
            lastPosition: header?.lastPosition ?? 0,
            entryCount: 0,
            entryBytes: 0,
            size: 0
        )
        if failed.count > Self.rememberedFailures,
            let oldest = failed.values.min(by: { $0.createdAtMilliseconds < $1.createdAtMilliseconds })
        {
            failed[oldest.id] = nil
        }
    }

    private func applyRetention() {
        do {
            for id in try directory.applyRetention(RetentionPolicy(maxSaved: settings.maxSaved)) {
                described[id] = nil
                logger.notice(
                    "scheduled backup deleted by retention",
                    metadata: ["backup/id": "\(id)", "backup/max-saved": "\(settings.maxSaved)"]
                )
            }
        } catch {
            logger.error("retention could not delete old backups", metadata: ["backup/error": "\(error)"])
        }
    }

    // MARK: What is known

    /// The READY backups in the directory, read once each (a file deleted by hand drops out).
    private func readyBackups() -> [BackupDescription] {
        let ids: [String]
        do {
            ids = try directory.ids()
        } catch {
            logger.error("cannot list the backup directory", metadata: ["backup/error": "\(error)"])
            return Array(described.values)
        }
        let present = Set(ids)
        described = described.filter { present.contains($0.key) }
        return ids.compactMap { try? describe($0) }
    }

    private func describe(_ id: String) throws -> BackupDescription {
        if let known = described[id] { return known }
        do {
            let description = try directory.describe(id)
            described[id] = description
            return description
        } catch .notFound {
            throw notFound(id)
        } catch {
            throw ErrorReply(code: .corruption, text: "\(error)")
        }
    }

    private func validate(_ id: String) throws {
        do {
            try BackupID.validate(id)
        } catch {
            throw ErrorReply(code: .invalidRequest, text: "\(error)")
        }
    }

    private func notFound(_ id: String) -> ErrorReply {
        ErrorReply(
            code: .notFound,
            text: "no backup with id '\(id)' on this coordinator; `replog backup list` shows the backups it keeps"
        )
    }

    private func info(ready description: BackupDescription) -> BackupInfo {
        let header = description.header
        return BackupInfo(
            id: header.backupID,
            label: header.label,
            status: .ready,
            createdAtMilliseconds: header.createdAtMilliseconds,
            firstPosition: header.firstPosition,
            lastPosition: header.lastPosition,
            entryCount: description.entryCount,
            entryBytes: description.entryBytes,
            size: description.fileSize,
            sha256: description.sha256
        )
    }

    private func info(running: Running) -> BackupInfo {
        let header = running.header
        let progress = running.progress.get()
        return BackupInfo(
            id: header.backupID,
            label: header.label,
            status: .backingUp,
            createdAtMilliseconds: header.createdAtMilliseconds,
            firstPosition: header.firstPosition,
            lastPosition: header.lastPosition,
            entryCount: progress?.entryCount ?? 0,
            entryBytes: progress?.entryBytes ?? 0,
            size: progress?.fileBytes ?? 0
        )
    }

    private func updateGauges(_ ready: [BackupDescription]) {
        metrics.saved.record(ready.count)
        guard let newest = ready.max(by: { $0.header.createdAtMilliseconds < $1.header.createdAtMilliseconds }) else {
            return
        }
        let now = clock()
        let created = newest.header.createdAtMilliseconds
        metrics.newestAge.record(Double(now > created ? now - created : 0) / 1000)
        metrics.newestSize.record(Int64(clamping: newest.fileSize))
    }

    static func reason(_ error: any Error) -> String {
        switch error {
        case let reply as ErrorReply: return reply.text
        case is CancellationError: return "the coordinator stopped while the backup was being taken"
        default: return ErrorText.describe(error)
        }
    }

    // MARK: Time

    static func milliseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(0, seconds)) * 1000 + UInt64(max(0, attoseconds)) / 1_000_000_000_000_000
    }

    static func seconds(_ duration: Duration) -> String {
        let milliseconds = milliseconds(duration)
        let fraction = milliseconds % 1000
        return "\(milliseconds / 1000).\(fraction < 10 ? "00" : fraction < 100 ? "0" : "")\(fraction)"
    }

    @Sendable static func wallClockMilliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }
}

/// The progress of one backup, written by the task taking it and read by `show`.
private final class ProgressBox: Sendable {
    private let value = NIOLockedValueBox<BackupProgress?>(nil)
    func set(_ progress: BackupProgress) { value.withLockedValue { $0 = progress } }
    func get() -> BackupProgress? { value.withLockedValue { $0 } }
}
