import CoreMetrics
import Foundation
public import Logging
public import ReplogModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A replica's durable store: metadata plus a segmented, checksummed log of actions.
///
/// The store persists what the consensus core decided and answers what it holds; it makes no
/// protocol decisions. Every `persist` returns only after the data is durable (fdatasync), and
/// concurrent calls share fsyncs (group commit). Reads are served from the files, so memory holds
/// only the compact position index (about 8 bytes per position).
///
/// ```swift
/// let store = try ReplicaStore(directory: "/var/lib/replog")
/// try await store.persist(promise: 7)
/// try await store.persist(actions: [.learned(.append(bytes), at: 1, proposal: 7)])
/// let actions = try store.read(1...10)
/// await store.close()
/// ```
public final class ReplicaStore: Sendable {
    /// The store directory.
    public let directory: String
    /// The options it was opened with.
    public let options: StoreOptions
    /// Damage found when the store was opened (only with ``StoreOptions/CorruptionPolicy/quarantine``).
    public let corruption: [CorruptionReport]

    private let engine: WriteEngine
    private let lock: LockFile

    /// Opens (or, when `options.createIfMissing`, creates) the store in `directory`, recovering
    /// the derived state from its files.
    public init(directory: String, options: StoreOptions = StoreOptions(), logger: Logger? = nil) throws {
        let logger = logger ?? Logger(label: "replog.storage")
        guard options.segmentSize >= 4096, options.segmentSize <= Int(UInt32.max), options.segmentSize % 8 == 0 else {
            throw StorageError.invalidRequest(
                "segment size \(options.segmentSize) must be a multiple of 8 between 4096 and \(UInt32.max)"
            )
        }
        let found = FileIO.exists(directory)
        if found.exists && !found.isDirectory { throw StorageError.notADirectory(path: directory) }
        if !found.exists {
            guard options.createIfMissing && !options.readOnly else { throw StorageError.noStore(path: directory) }
            try FileIO.makeDirectory(directory)
        }
        let lock = try LockFile(directory: directory, shared: options.readOnly)
        let names = try FileIO.listDirectory(directory)
        let segmentNumbers = names.compactMap(SegmentFile.number(ofFileName:)).sorted()
        var metadata = try MetadataFile.read(directory: directory)
        if metadata == nil {
            if !segmentNumbers.isEmpty { throw StorageError.missingMetadata(directory: directory) }
            guard options.createIfMissing && !options.readOnly else { throw StorageError.noStore(path: directory) }
            let fresh = StoreMetadata()
            try MetadataFile.write(fresh, directory: directory, failpoint: options.failpoint)
            metadata = fresh
        }
        if !options.readOnly {
            for name in names where name.hasSuffix(".tmp") {
                try FileIO.removeFile(directory + "/" + name)
            }
        }
        var recovery = Recovery(
            directory: directory,
            readOnly: options.readOnly,
            logger: logger,
            failpoint: options.failpoint
        )
        let recovered = try recovery.run(segmentNumbers: segmentNumbers)
        if !recovered.corruption.isEmpty && options.corruptionPolicy == .refuseToOpen {
            throw StorageError.corruption(recovered.corruption)
        }
        let metrics = StoreMetrics(factory: options.metricsFactory ?? MetricsSystem.factory)
        metrics.tornTails.increment(by: recovered.tornTails)
        metrics.damagedRegions.record(recovered.corruption.count)
        self.directory = directory
        self.options = options
        self.corruption = recovered.corruption
        self.lock = lock
        self.engine = WriteEngine(
            directory: directory,
            options: options,
            logger: logger,
            metrics: metrics,
            metadata: metadata!,
            recovered: recovered
        )
        if !options.readOnly {
            let engine = self.engine
            let thread = Thread { engine.run() }
            thread.name = "replog-storage-io"
            thread.start()
        }
    }

    /// Finishes queued writes, stops the I/O thread and releases the directory lock.
    /// Afterwards every call throws ``StorageError/closed``.
    public func close() async {
        if !options.readOnly {
            await withCheckedContinuation { engine.submit(.stop($0)) }
        }
        lock.release()
    }

    /// A store dropped without ``close()`` still stops its I/O thread (nobody can be waiting on
    /// it: a pending call keeps the store alive).
    deinit {
        if !options.readOnly { engine.submit(.stop(nil)) }
    }

    // MARK: metadata

    /// The current metadata (as last made durable).
    public var metadata: StoreMetadata { engine.stateLock.withLock { engine.metadata } }

    /// Durably records the highest promise for the whole log.
    public func persist(promise: Proposal) async throws {
        try await updateMetadata { $0.promised = promise }
    }

    /// Durably records the replica's status.
    public func persist(status: ReplicaStatus) async throws {
        try await updateMetadata { $0.status = status }
    }

    /// Durably replaces the metadata with `change` applied to its current value.
    public func updateMetadata(_ change: @escaping @Sendable (inout StoreMetadata) -> Void) async throws {
        try checkWritable()
        try await withCheckedThrowingContinuation { engine.submit(.metadata(change, $0)) }
    }

    // MARK: log

    /// Durably stores `actions`; each replaces whatever was stored for its position.
    /// Positions below ``begin`` are accepted and stay hidden.
    public func persist(actions: [Action]) async throws {
        guard !actions.isEmpty else { return }
        try await persist([.actions(actions)])
    }

    /// Durably marks `count` positions from `first` learned, each of which must hold a value
    /// performed with `proposal` (the "chosen with this proposal" of a learned-range message).
    /// The check happens when the call is made: the caller must not rewrite these positions
    /// concurrently (the consensus core decides one step at a time, so it never does).
    public func persist(learned first: Position, count: UInt64, proposal: Proposal) async throws {
        guard count > 0 else { return }
        try await persist([.learned(first: first, count: count, proposal: proposal)])
    }

    /// Durably applies `writes` in order, all made durable by one write and one fdatasync: a
    /// replica's values and the learned marks of earlier values travel together.
    public func persist(_ writes: [StoreWrite]) async throws {
        guard !writes.isEmpty else { return }
        try checkWritable()
        try checkLearned(writes)
        let batch = try EncodedBatch.writes(writes, maxRecordSize: engine.maxRecordSize)
        if options.inlineWrites {
            try await withCheckedThrowingContinuation { engine.writeNowOrSubmit(batch, $0) }
        } else {
            try await withCheckedThrowingContinuation { engine.submit(.write(batch, $0)) }
        }
    }

    /// Refuses a learned range over a position that holds no value performed with its proposal,
    /// looking first at the actions of the same call, then at what is stored.
    private func checkLearned(_ writes: [StoreWrite]) throws {
        var written: [Position: Proposal?] = [:]
        for write in writes {
            switch write {
            case .actions(let actions):
                for action in actions { written[action.position] = action.performed }
            case .learned(let first, let count, let proposal):
                guard count > 0 else { continue }
                let (last, overflow) = first.addingReportingOverflow(count - 1)
                if overflow { throw StorageError.invalidRequest("learned range from \(first) of \(count) overflows") }
                let (begin, entries) = engine.stateLock.withLock {
                    () -> (Position, [Position: PositionIndex.Entry]) in
                    var entries: [Position: PositionIndex.Entry] = [:]
                    engine.state.index.forEach(in: first...last) { entries[$0] = $1 }
                    return (engine.state.begin, entries)
                }
                guard last >= begin else { continue }
                let positions = last - max(first, begin) + 1
                if positions > UInt64(entries.count + written.count) {
                    throw StorageError.invalidRequest(
                        "positions \(first)...\(last) are not all stored; store their values first"
                    )
                }
                for position in max(first, begin)...last {
                    let performed: Proposal?
                    if let inCall = written[position] {
                        performed = inCall
                    } else if let entry = entries[position] {
                        performed = try readFixedPart(position: position, entry: entry)
                    } else {
                        throw StorageError.invalidRequest(
                            "positions \(first)...\(last) are not all stored; store their values first"
                        )
                    }
                    guard performed == proposal else {
                        throw StorageError.invalidRequest(
                            "position \(position) holds a value performed with "
                                + "\(performed.map(String.init) ?? "no proposal"), not \(proposal); store the chosen value instead"
                        )
                    }
                }
            }
        }
    }

    /// The positions of `range` that hold a TRUNCATE (from the index: no I/O).
    public func truncates(in range: ClosedRange<Position>) -> [Position] {
        engine.stateLock.withLock {
            var found: [Position] = []
            engine.state.index.forEach(in: range) { position, entry in
                if entry.isTruncate { found.append(position) }
            }
            return found
        }
    }

    /// What the core needs to decide about a learned range at `position`, without reading the
    /// value: its performed proposal, whether it is learned, whether it is a TRUNCATE.
    public func summary(at position: Position) throws -> ActionSummary? {
        let entry: PositionIndex.Entry? = engine.stateLock.withLock {
            position < engine.state.begin ? nil : engine.state.index[position]
        }
        guard let entry, entry.isPresent else { return nil }
        return ActionSummary(
            performed: try readFixedPart(position: position, entry: entry),
            learned: entry.isLearned,
            isTruncate: entry.isTruncate
        )
    }

    /// Whether `position` holds a learned action, from the index alone (no read). A damaged
    /// position is not: it is served by nobody until a peer's copy replaces it.
    public func isLearned(at position: Position) -> Bool {
        engine.stateLock.withLock {
            guard position >= engine.state.begin, let entry = engine.state.index[position] else { return false }
            return entry.isLearned && !entry.isDamaged
        }
    }

    /// Lowest position kept (0 until a learned truncation).
    public var begin: Position { engine.stateLock.withLock { engine.state.begin } }

    /// Highest position holding an action (0 when none).
    public var end: Position { engine.stateLock.withLock { engine.state.end } }

    /// Write-path counters.
    public var statistics: StoreStatistics { engine.stateLock.withLock { engine.statistics } }

    /// Bytes held by the position index (for tests and metrics).
    var engineIndexMemory: Int { engine.stateLock.withLock { engine.state.index.memoryBytes } }

    /// Number of positions held (below ``end`` and not below ``begin``).
    public var count: Int { engine.stateLock.withLock { engine.state.index.count } }

    /// The stored actions of `range` (positions without an action are skipped), at most `limit`.
    /// Throws ``StorageError/corruptPosition(_:)`` rather than serve a damaged record.
    public func read(_ range: ClosedRange<Position>, limit: Int = .max) throws -> [Action] {
        let located = engine.stateLock.withLock { () -> [(Position, PositionIndex.Entry, SegmentFile?)] in
            let lower = max(range.lowerBound, engine.state.begin)
            guard lower <= range.upperBound else { return [] }
            var located: [(Position, PositionIndex.Entry, SegmentFile?)] = []
            engine.state.index.visit(in: lower...range.upperBound) { position, entry in
                guard located.count < limit else { return false }
                located.append((position, entry, engine.segments[entry.segment]))
                return true
            }
            return located
        }
        return try located.map { position, entry, segment in
            guard !entry.isDamaged, let segment else { throw StorageError.corruptPosition(position) }
            var action = try readRecord(position: position, segment: segment, offset: entry.offset)
            action.learned = action.learned || entry.isLearned
            return action
        }
    }

    // MARK: damage (stores opened with the quarantine policy)

    /// Positions whose record recovery found damaged and that nothing stored since has replaced
    /// (a fresh value for a position heals it); reads of them throw ``StorageError/corruptPosition(_:)``.
    public var damagedPositions: [Position] {
        let suspects = Set(corruption.compactMap(\.suspectedPosition)).sorted()
        guard !suspects.isEmpty else { return [] }
        return engine.stateLock.withLock {
            suspects.filter { $0 >= engine.state.begin && engine.state.index[$0]?.isDamaged == true }
        }
    }

    /// Whether `position` holds a damaged record (see ``damagedPositions``).
    public func isDamaged(_ position: Position) -> Bool {
        engine.stateLock.withLock {
            position >= engine.state.begin && engine.state.index[position]?.isDamaged == true
        }
    }

    /// The damaged regions whose records could not even say which position they held (a damaged
    /// segment header or record length): the store cannot tell which positions are affected.
    public var damageOfUnknownPosition: [CorruptionReport] {
        corruption.filter { $0.suspectedPosition == nil }
    }

    /// The stored action at `position`, or nil.
    public func action(at position: Position) throws -> Action? {
        try read(position...position).first
    }

    /// Positions of `range` at or above ``begin`` and at most ``end`` without an action (holes).
    /// Position 0 never holds an entry and is never reported.
    public func missingPositions(in range: ClosedRange<Position>, limit: Int = .max) -> [Position] {
        engine.stateLock.withLock {
            let lower = max(range.lowerBound, engine.state.begin, 1)
            let upper = min(range.upperBound, engine.state.end)
            guard lower <= upper else { return [] }
            var missing: [Position] = []
            var next = lower
            engine.state.index.visit(in: lower...upper) { position, _ in
                while next < position && missing.count < limit {
                    missing.append(next)
                    next += 1
                }
                next = position + 1
                return missing.count < limit
            }
            while next <= upper && missing.count < limit {
                missing.append(next)
                if next == upper { break }
                next += 1
            }
            return missing
        }
    }

    /// Positions of `range` (at or above ``begin``) holding an action, damaged ones included.
    public func storedPositions(in range: ClosedRange<Position>, limit: Int = .max) -> [Position] {
        engine.stateLock.withLock {
            let lower = max(range.lowerBound, engine.state.begin)
            guard lower <= range.upperBound else { return [] }
            var positions: [Position] = []
            engine.state.index.visit(in: lower...range.upperBound) { position, _ in
                guard positions.count < limit else { return false }
                positions.append(position)
                return true
            }
            return positions
        }
    }

    /// Positions of `range` holding an action that is not learned.
    public func unlearnedPositions(in range: ClosedRange<Position>, limit: Int = .max) -> [Position] {
        engine.stateLock.withLock {
            let lower = max(range.lowerBound, engine.state.begin)
            guard lower <= range.upperBound else { return [] }
            var positions: [Position] = []
            engine.state.index.visit(in: lower...range.upperBound) { position, entry in
                guard positions.count < limit else { return false }
                if !entry.isLearned { positions.append(position) }
                return true
            }
            return positions
        }
    }

    // MARK: private

    private func checkWritable() throws {
        if options.readOnly { throw StorageError.invalidRequest("the store was opened read-only") }
    }

    /// Reads and verifies one record.
    private func readRecord(position: Position, segment: SegmentFile, offset: Int) throws -> Action {
        var header = [UInt8](repeating: 0, count: RecordFormat.headerSize)
        let got = try header.withUnsafeMutableBytes {
            try FileIO.preadAll(segment.fd, $0, at: offset, path: segment.path)
        }
        guard got == header.count else { throw StorageError.corruptPosition(position) }
        let length = Int(header.withUnsafeBytes { RecordFormat.load32($0.baseAddress!, 0) })
        // Segments written with a larger configured size may hold larger records.
        let bound =
            length <= engine.maxRecordSize
            ? engine.maxRecordSize : try FileIO.fileSize(segment.fd, path: segment.path) - offset
        guard length <= bound else { throw StorageError.corruptPosition(position) }
        let size = RecordFormat.alignedSize(bodySize: length)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        guard try FileIO.preadAll(segment.fd, buffer, at: offset, path: segment.path) == size,
            case .valid(.action(let action), _, _) = RecordFormat.probe(
                UnsafeRawBufferPointer(buffer),
                maxBodySize: bound
            ), action.position == position
        else {
            throw StorageError.corruptPosition(position)
        }
        return action
    }

    /// The performed proposal of the stored action, from its fixed part only.
    private func readFixedPart(position: Position, entry: PositionIndex.Entry) throws -> Proposal? {
        let (segment, known) = engine.stateLock.withLock {
            (engine.segments[entry.segment], engine.recent.performed(at: position, entry))
        }
        guard !entry.isDamaged, let segment else { throw StorageError.corruptPosition(position) }
        if let known { return known }
        var bytes = [UInt8](repeating: 0, count: RecordFormat.headerSize + RecordFormat.actionFixedSize)
        let got = try bytes.withUnsafeMutableBytes {
            try FileIO.preadAll(segment.fd, $0, at: entry.offset, path: segment.path)
        }
        guard got == bytes.count else { throw StorageError.corruptPosition(position) }
        return bytes.withUnsafeBytes { raw in
            let body = raw.baseAddress! + RecordFormat.headerSize
            let flags = body.load(fromByteOffset: 24, as: UInt8.self)
            return flags & 1 != 0 ? RecordFormat.load64(body, 16) : nil
        }
    }
}
