import Logging
import NIOConcurrencyHelpers
import ReplogModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The store's single I/O thread and the group commit.
///
/// Callers encode and checksum their records on their own threads and queue them. The I/O thread
/// takes everything queued at once, lays it out back to back, writes it with one `pwritev` and
/// makes it durable with one `fdatasync`; while that fsync runs, new requests pile up in the queue
/// and form the next batch. Each caller is resumed only after the fsync covering its records
/// returned, and only then does the derived state (index, begin, end) show the new records.
///
/// Learned marks are the exception: a batch of them only is written without an fdatasync of its
/// own and resumed once written. A learned mark lost in a power failure loses nothing: the value
/// it marks was made durable before it, and that the value was chosen is a fact the peers know
/// and the replica learns again. Marks reach the disk with the next synced batch, before a
/// segment is closed, before a truncation they carry deletes segments, at a clean stop, or after
/// `StoreOptions.learnedSyncDelay` of quiet. A replica then pays one fdatasync per append, not two. Unsynced
/// records name the offset where the unsynced run began as their batch (a synced chunk names its
/// own start), so recovery still tells a torn tail from damage.
final class WriteEngine: @unchecked Sendable {
    enum Job {
        case write(EncodedBatch, CheckedContinuation<Void, any Error>)
        case metadata(@Sendable (inout StoreMetadata) -> Void, CheckedContinuation<Void, any Error>)
        case stop(CheckedContinuation<Void, Never>?)
    }

    let directory: String
    let options: StoreOptions
    let logger: Logger
    let metrics: StoreMetrics

    // Shared with readers, guarded by `stateLock`.
    let stateLock = NIOLock()
    var state: StoreState
    var metadata: StoreMetadata
    var segments: [UInt64: SegmentFile]
    var statistics = StoreStatistics()
    var recent = RecentPerformed()

    // The queue, guarded by `queueLock` (``queueState`` says who may take jobs).
    private let queueLock = ConditionLock<Int>(value: 0)
    private var jobs: [Job] = []
    private var queueState: State = .idle
    private var ioThreadSignalled = false
    /// Whether learned marks wait for an fdatasync (a copy of `unsyncedStart != nil`).
    private var unsyncedWaiting = false
    private var failure: StorageError?
    private var stopped = false

    // Owned by whoever writes: the I/O thread, or an inline writer while the state is busy.
    private var current: SegmentFile?
    private var writeOffset = 0
    private var capacity = 0
    private var nextSegmentNumber: UInt64
    /// The failure that stopped the write path (I/O thread's copy of `failure`).
    private var sticky: StorageError?
    /// Where the records written without an fdatasync begin in the current segment, if any.
    private var unsyncedStart: Int?

    init(
        directory: String,
        options: StoreOptions,
        logger: Logger,
        metrics: StoreMetrics,
        metadata: StoreMetadata,
        recovered: Recovery.Result
    ) {
        self.directory = directory
        self.options = options
        self.logger = logger
        self.metrics = metrics
        self.metadata = metadata
        self.state = recovered.state
        self.segments = recovered.segments
        self.nextSegmentNumber = (recovered.segments.keys.max() ?? 0) + 1
        if let (segment, offset) = recovered.append {
            current = segment
            writeOffset = offset
            capacity = (try? FileIO.fileSize(segment.fd, path: segment.path)) ?? 0
        }
    }

    var maxRecordSize: Int { options.segmentSize - SegmentFile.headerSize }

    private var lazySyncSeconds: Double {
        let (seconds, attoseconds) = options.learnedSyncDelay.components
        return max(0.001, Double(seconds) + Double(attoseconds) / 1e18)
    }

    // MARK: callers

    /// Queues `job` for the I/O thread.
    func submit(_ job: Job) {
        guard let job = admit(job) else { return }
        enqueue(job)
    }

    /// Writes `batch` on the calling thread when the I/O thread is idle, else queues it.
    ///
    /// Saves the two thread wake-ups of a hand-over (to the I/O thread and back), which cost more
    /// than the write itself on a small host; callers that may block (a replica's single event
    /// loop, whose next request waits for this write anyway) opt in with `inlineWrites`.
    func writeNowOrSubmit(_ batch: EncodedBatch, _ continuation: CheckedContinuation<Void, any Error>) {
        guard let job = admit(.write(batch, continuation)) else { return }
        guard queueState == .idle else {
            enqueue(job)
            return
        }
        release(.busy)
        _ = process([job])
        finishBusy()
    }

    /// Appends an admitted `job` to the queue and unlocks it; a busy writer takes it when done.
    private func enqueue(_ job: Job) {
        jobs.append(job)
        release(queueState == .busy ? .busy : .waiting)
    }

    /// Locks the queue and returns `job` if it may be queued; otherwise unlocks and answers it.
    private func admit(_ job: Job) -> Job? {
        queueLock.lock()
        var refusal: StorageError? = stopped ? .closed : nil
        if case .stop = job {} else if let failure { refusal = failure }
        if let error = refusal {
            queueLock.unlock()
            switch job {
            case .write(_, let continuation), .metadata(_, let continuation): continuation.resume(throwing: error)
            case .stop(let continuation): continuation?.resume()
            }
            return nil
        }
        if case .stop = job { stopped = true }
        return job
    }

    /// Who may take the queued jobs.
    private enum State {
        /// No jobs and nobody writing.
        case idle
        /// Jobs wait for the I/O thread.
        case waiting
        /// The I/O thread or an inline writer is writing; it looks at the queue when done.
        case busy
    }

    /// Ends a turn of writing (I/O thread or inline): hands queued jobs to the I/O thread.
    private func finishBusy() {
        let lazy = unsyncedStart != nil
        queueLock.lock()
        unsyncedWaiting = lazy
        release(jobs.isEmpty ? .idle : .waiting)
    }

    /// Unlocks the queue in `state`. The lock's own value says only whether the I/O thread has
    /// work (1) or not (0), and changes only when that does: each change wakes the I/O thread,
    /// which an inline writer must not do twice per write.
    private func release(_ state: State) {
        queueState = state
        let signal = state == .waiting
        if signal != ioThreadSignalled {
            ioThreadSignalled = signal
            queueLock.unlock(withValue: signal ? 1 : 0)
        } else {
            queueLock.unlock()
        }
    }

    // MARK: the I/O thread

    func run() {
        var running = true
        while running {
            guard queueLock.lock(whenValue: 1, timeoutSeconds: lazySyncSeconds) else {
                // Quiet: make learned marks written without an fdatasync durable.
                queueLock.lock()
                guard queueState == .idle, unsyncedWaiting else {
                    queueLock.unlock()
                    continue
                }
                release(.busy)
                syncUnsynced()
                finishBusy()
                continue
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            release(.busy)
            running = process(batch)
            finishBusy()
        }
    }

    /// Carries out `batch` in order; returns false once it held a stop.
    private func process(_ batch: [Job]) -> Bool {
        var group = Group()
        var stopping = false
        var stopContinuation: CheckedContinuation<Void, Never>?
        for job in batch {
            switch job {
            case .write(let records, let continuation):
                add(records, continuation, to: &group)
            case .metadata(let change, let continuation):
                flush(&group)
                group = Group()
                writeMetadata(change, continuation)
            case .stop(let continuation):
                stopping = true
                stopContinuation = continuation
            }
        }
        flush(&group)
        if stopping {
            syncUnsynced()
            stateLock.withLock { segments = [:] }
            current = nil
            stopContinuation?.resume()
        }
        return !stopping
    }

    /// Requests collected for one durable write.
    private struct Group {
        var waiters: [CheckedContinuation<Void, any Error>] = []
        var vectors: [iovec] = []
        var keepAlive: [EncodedBatch] = []
        var updates: [(IndexUpdate, UInt64, Int)] = []
        var chunkStart = 0
        var chunkBytes = 0
        /// Whether the chunk holds an action, which is durable only after an fdatasync.
        var needsSync = false
        var error: StorageError?
    }

    private func add(_ batch: EncodedBatch, _ continuation: CheckedContinuation<Void, any Error>, to group: inout Group)
    {
        group.waiters.append(continuation)
        group.keepAlive.append(batch)
        if let sticky, group.error == nil { group.error = sticky }
        guard group.error == nil else { return }
        for record in batch.records {
            if current == nil || writeOffset + record.size > capacity {
                do {
                    try writeChunk(&group)
                    try roll()
                } catch {
                    group.error = error as? StorageError ?? .failed("\(error)")
                    return
                }
            }
            if group.chunkBytes == 0 { group.chunkStart = writeOffset }
            // Per chunk: a roll in the middle of this batch writes (and syncs) the chunk before it.
            if batch.needsSync { group.needsSync = true }
            let start = batch.base + record.bufferOffset
            RecordFormat.seal(
                start,
                bodySize: record.bodySize,
                partialCRC: record.partialCRC,
                // A synced chunk proves everything before it durable; an unsynced one proves
                // nothing past the last fdatasync.
                batchStart: UInt32(batch.needsSync ? group.chunkStart : unsyncedStart ?? group.chunkStart)
            )
            if let last = group.vectors.last, last.iov_base! + last.iov_len == UnsafeMutableRawPointer(start) {
                group.vectors[group.vectors.count - 1].iov_len += record.size
            } else {
                group.vectors.append(iovec(iov_base: start, iov_len: record.size))
            }
            group.updates.append((record.update, current!.number, writeOffset))
            writeOffset += record.size
            group.chunkBytes += record.size
        }
    }

    /// Writes and syncs the pending chunk, then publishes its records.
    private func writeChunk(_ group: inout Group) throws {
        guard group.chunkBytes > 0, let segment = current else { return }
        defer {
            group.vectors.removeAll(keepingCapacity: true)
            group.updates.removeAll(keepingCapacity: true)
            group.chunkBytes = 0
            group.needsSync = false
        }
        do {
            try FileIO.pwritevAll(
                segment.fd,
                group.vectors,
                at: group.chunkStart,
                path: segment.path,
                failpoint: options.failpoint
            )
        } catch {
            // Nothing of this chunk counts; wipe what may have reached the file so that no
            // half-written batch can ever be mistaken for a durable one.
            metrics.writeFailures.increment()
            logger.error(
                "a write failed; its callers get the error and nothing of it counts",
                metadata: ["storage/error": "\(error)", "storage/bytes": "\(group.chunkBytes)"]
            )
            writeOffset = group.chunkStart
            do {
                try FileIO.writeZeros(
                    segment.fd,
                    from: group.chunkStart,
                    length: group.chunkBytes,
                    path: segment.path,
                    failpoint: options.failpoint
                )
                try FileIO.dataSync(segment.fd, path: segment.path, failpoint: options.failpoint)
            } catch {
                fail(.failed("could not wipe a failed write in \(segment.path): \(error)"))
            }
            throw error
        }
        if group.needsSync {
            try sync(segment)
        } else if unsyncedStart == nil {
            unsyncedStart = group.chunkStart
        }
        metrics.records.increment(by: group.updates.count)
        metrics.bytes.increment(by: group.chunkBytes)
        let raised = stateLock.withLock {
            statistics.records += group.updates.count
            statistics.bytes += group.chunkBytes
            var raised = false
            for (update, segmentNumber, offset) in group.updates {
                switch update {
                case .action(let position, let learned, let truncateTo, let performed):
                    raised =
                        state.applyAction(
                            position: position,
                            learned: learned,
                            truncateTo: truncateTo,
                            segment: segmentNumber,
                            offset: offset
                        ) || raised
                    if let entry = state.index[position] { recent.note(position, entry, performed: performed) }
                case .learned(let first, let count):
                    raised = state.applyLearned(first: first, count: count, segment: segmentNumber) || raised
                }
            }
            return raised
        }
        if raised {
            // A truncation deletes segments only once it is durable itself.
            if unsyncedStart != nil { try sync(segment) }
            deleteObsoleteSegments()
        }
    }

    /// Makes everything written to `segment` durable; a failure stops the write path.
    private func sync(_ segment: SegmentFile) throws {
        let syncStart = ContinuousClock.now
        do {
            try FileIO.dataSync(segment.fd, path: segment.path, failpoint: options.failpoint)
            let elapsed = (ContinuousClock.now - syncStart).components
            metrics.syncDuration.recordNanoseconds(
                elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000
            )
        } catch {
            // What the failed fsync covered may or may not be on the disk, and after a failed
            // fsync Linux may drop the dirty pages while reporting later fsyncs as fine: nothing
            // more is written until the store is reopened and recovery reads what is really there.
            metrics.writeFailures.increment()
            let failure = StorageError.failed("\(error)")
            fail(failure)
            throw failure
        }
        unsyncedStart = nil
        metrics.syncs.increment()
        stateLock.withLock { statistics.syncs += 1 }
    }

    /// Makes the learned marks written without an fdatasync durable (quiet, a new segment, a stop).
    private func syncUnsynced() {
        guard unsyncedStart != nil, sticky == nil, let segment = current else {
            unsyncedStart = nil
            return
        }
        try? sync(segment)
    }

    private func flush(_ group: inout Group) {
        if group.error == nil {
            do { try writeChunk(&group) } catch { group.error = error as? StorageError ?? .failed("\(error)") }
        }
        for waiter in group.waiters {
            if let error = group.error { waiter.resume(throwing: error) } else { waiter.resume() }
        }
        group.waiters.removeAll()
        group.keepAlive.removeAll()
    }

    private func roll() throws {
        // Recovery takes damage in a segment that is no longer the newest for corruption, so the
        // segment is complete and durable before the next one is begun.
        if unsyncedStart != nil, let segment = current { try sync(segment) }
        let number = nextSegmentNumber
        guard number <= PositionIndex.Entry.maxSegment else {
            throw StorageError.failed("segment numbers are exhausted")
        }
        let segment: SegmentFile
        do {
            segment = try SegmentFile.create(
                number: number,
                directory: directory,
                size: options.segmentSize,
                zeroFill: options.preallocation == .zeroFill,
                failpoint: options.failpoint
            )
        } catch {
            metrics.writeFailures.increment()
            logger.error("could not create a segment", metadata: ["error": "\(error)"])
            throw error
        }
        nextSegmentNumber += 1
        metrics.segmentsCreated.increment()
        stateLock.withLock {
            segments[number] = segment
            state.noteSegment(number, refersTo: 0)
            statistics.segmentsCreated += 1
        }
        current = segment
        writeOffset = SegmentFile.headerSize
        capacity = options.segmentSize
        logger.debug("created segment", metadata: ["segment": "\(segment.path)"])
    }

    private func deleteObsoleteSegments() {
        let victims: [SegmentFile] = stateLock.withLock {
            let numbers = state.obsoleteSegments(keeping: current?.number)
            var victims: [SegmentFile] = []
            for number in numbers {
                state.segmentMax[number] = nil
                if let segment = segments.removeValue(forKey: number) { victims.append(segment) }
            }
            statistics.segmentsDeleted += victims.count
            return victims
        }
        guard !victims.isEmpty else { return }
        metrics.segmentsDeleted.increment(by: victims.count)
        for segment in victims {
            do {
                try FileIO.removeFile(segment.path)
            } catch {
                logger.error("could not delete a truncated segment", metadata: ["error": "\(error)"])
            }
        }
        try? FileIO.fsyncDirectory(directory, failpoint: options.failpoint)
        logger.info("deleted segments below the new begin", metadata: ["count": "\(victims.count)"])
    }

    private func writeMetadata(
        _ change: (inout StoreMetadata) -> Void,
        _ continuation: CheckedContinuation<Void, any Error>
    ) {
        if let sticky {
            continuation.resume(throwing: sticky)
            return
        }
        var updated = stateLock.withLock { metadata }
        change(&updated)
        do {
            try MetadataFile.write(updated, directory: directory, failpoint: options.failpoint)
            stateLock.withLock { metadata = updated }
            continuation.resume()
        } catch {
            continuation.resume(throwing: error)
        }
    }

    private func fail(_ error: StorageError) {
        logger.critical("storage failed; it must be reopened", metadata: ["error": "\(error)"])
        if sticky == nil { sticky = error }
        queueLock.lock()
        if failure == nil { failure = error }
        queueLock.unlock()
    }
}
