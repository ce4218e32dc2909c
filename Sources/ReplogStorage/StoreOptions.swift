public import CoreMetrics

/// How a store is opened.
public struct StoreOptions: Sendable {
    /// What to do when recovery finds damaged records that had been durable.
    public enum CorruptionPolicy: Sendable {
        /// Refuse to open (`StorageError.corruption`): the replica must not start as if nothing happened.
        case refuseToOpen
        /// Open anyway; the damaged positions are refused by reads and listed in
        /// ``ReplicaStore/corruption`` for the shell to report and act on (e.g. stop voting, recover).
        case quarantine
    }

    /// How new segment files get their disk space.
    public enum Preallocation: Sendable {
        /// Write zeros over the whole segment when creating it: later fdatasyncs only flush data,
        /// which keeps small durable writes fast, at the cost of writing each segment twice.
        case zeroFill
        /// Reserve the blocks with fallocate: cheaper to create, but the first write to each block
        /// also commits file-system metadata.
        case fallocate
    }

    /// Size of each segment file; records never span segments. At least 4 KiB.
    public var segmentSize: Int
    public var preallocation: Preallocation
    public var corruptionPolicy: CorruptionPolicy
    /// Open for reading only: nothing is created, cut or written; the lock is shared.
    public var readOnly: Bool
    /// Create the directory and an EMPTY store when the directory is absent or empty.
    public var createIfMissing: Bool
    /// Where the store reports its metrics (`replog_storage_*`); nil means `MetricsSystem.factory`.
    public var metricsFactory: (any MetricsFactory)?
    /// Fails chosen system calls the way a full or failing disk does (tests only; nil otherwise).
    public var failpoint: StorageFailpoint?
    /// Write and fdatasync on the caller's thread when the store's I/O thread is idle, sparing
    /// two thread wake-ups per write. The caller blocks for the fdatasync: for a caller with
    /// nothing else to do meanwhile (a replica's single event loop), not for a shared pool.
    public var inlineWrites = false
    /// How long learned marks written without an fdatasync wait for one while nothing else is
    /// written (``WriteEngine``).
    public var learnedSyncDelay: Duration = .seconds(1)

    public init(
        segmentSize: Int = 64 << 20,
        preallocation: Preallocation = .fallocate,
        corruptionPolicy: CorruptionPolicy = .refuseToOpen,
        readOnly: Bool = false,
        createIfMissing: Bool = true,
        metricsFactory: (any MetricsFactory)? = nil,
        failpoint: StorageFailpoint? = nil
    ) {
        self.failpoint = failpoint
        self.metricsFactory = metricsFactory
        self.segmentSize = segmentSize
        self.preallocation = preallocation
        self.corruptionPolicy = corruptionPolicy
        self.readOnly = readOnly
        self.createIfMissing = createIfMissing
    }
}

/// Counters of the write path, for benchmarks and metrics.
public struct StoreStatistics: Sendable, Hashable {
    /// Records made durable.
    public var records: Int = 0
    /// Bytes of records made durable (including headers and padding).
    public var bytes: Int = 0
    /// fdatasync calls on segment files.
    public var syncs: Int = 0
    /// Segment files created.
    public var segmentsCreated: Int = 0
    /// Segment files deleted after truncation.
    public var segmentsDeleted: Int = 0
}
