import Logging
import ReplogModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Rebuilds the derived state from the segment files: replays every valid record in order, cuts a
/// torn tail off the newest segment, and reports damage anywhere else.
///
/// Torn tail or corruption? Records are written in batches, each made durable by one fdatasync
/// before the next batch is written, and every record names the offset where its batch began.
/// When the records stop making sense at offset X, a valid record further on whose batch began
/// after X proves that the batch covering X had been made durable (and acknowledged): that is
/// corruption. Without such a record, in the newest segment, the damage lies in the last batch,
/// whose fdatasync never returned, so nobody was told it was durable: that is a torn tail.
struct Recovery {
    struct Result {
        var state = StoreState()
        var segments: [UInt64: SegmentFile] = [:]
        var corruption: [CorruptionReport] = []
        /// Torn tails cut (or, read-only, ignored).
        var tornTails = 0
        /// Where the next record goes: the newest segment and the end of its valid records,
        /// or nil when writes must start a fresh segment.
        var append: (segment: SegmentFile, offset: Int)?
    }

    let directory: String
    let readOnly: Bool
    let logger: Logger
    let failpoint: StorageFailpoint?
    private var lateSuspects: [Position] = []

    init(directory: String, readOnly: Bool, logger: Logger, failpoint: StorageFailpoint? = nil) {
        self.directory = directory
        self.readOnly = readOnly
        self.logger = logger
        self.failpoint = failpoint
    }

    mutating func run(segmentNumbers: [UInt64]) throws -> Result {
        var result = Result()
        for (index, number) in segmentNumbers.enumerated() {
            try scan(number: number, newest: index == segmentNumbers.count - 1, into: &result)
        }
        // Damaged records that claimed a position above everything seen so far: mark them now
        // that `end` is known, unless a later record has replaced them.
        for position in lateSuspects where result.state.index[position] == nil {
            result.state.markDamaged(position)
        }
        return result
    }

    private mutating func scan(number: UInt64, newest: Bool, into result: inout Result) throws {
        let path = directory + "/" + SegmentFile.fileName(number)
        let fd = try FileIO.openFile(path, readOnly ? O_RDONLY : O_RDWR)
        let segment = SegmentFile(number: number, path: path, fd: fd)
        let size = try FileIO.fileSize(fd, path: path)
        result.segments[number] = segment
        result.state.noteSegment(number, refersTo: 0)
        guard size > 0 else {
            result.corruption.append(CorruptionReport(segment: path, offset: 0, length: 0))
            return
        }
        // Populating the mapping up front costs one pass instead of a page fault per 4 KiB.
        #if os(Linux)
            let flags = MAP_SHARED | MAP_POPULATE
        #else
            let flags = MAP_SHARED
        #endif
        guard let mapping = mmap(nil, size, PROT_READ, flags, fd, 0), mapping != MAP_FAILED else {
            throw FileIO.error("mmap", path)
        }
        defer { munmap(mapping, size) }
        let bytes = UnsafeRawBufferPointer(start: mapping, count: size)
        if let problem = SegmentFile.headerProblem(bytes, number: number, path: path) {
            if case .corruption(let reports) = problem {
                result.corruption += reports
                return
            }
            throw problem
        }
        let limit = max(0, size - SegmentFile.headerSize - RecordFormat.headerSize - RecordFormat.trailerSize)
        var offset = SegmentFile.headerSize
        var damaged = false
        while true {
            offset = replay(bytes, from: offset, number: number, limit: limit, into: &result.state)
            let lastNonZero = Self.lastNonZeroByte(bytes, from: offset)
            if lastNonZero < offset { break }  // clean end: nothing was ever written past here
            let durableLater = findValid(bytes, from: offset + RecordFormat.alignment, limit: limit) {
                $0 > offset
            }
            if newest && durableLater == nil {
                let length = lastNonZero + 1 - offset
                logger.warning(
                    readOnly
                        ? "ignoring a torn tail of the newest segment (a write that was never acknowledged)"
                        : "cutting a torn tail off the newest segment (a write that was never acknowledged)",
                    metadata: ["segment": "\(path)", "offset": "\(offset)", "bytes": "\(length)"]
                )
                result.tornTails += 1
                if !readOnly {
                    try FileIO.writeZeros(fd, from: offset, length: length, path: path, failpoint: failpoint)
                    try FileIO.dataSync(fd, path: path, failpoint: failpoint)
                }
                break
            }
            damaged = true
            let next = findValid(bytes, from: offset + RecordFormat.alignment, limit: limit) { _ in true }
            let resume = next ?? (lastNonZero + 1)
            var suspect: Position?
            if case .invalid(let claimedSize, let claimedPosition) = RecordFormat.probe(
                UnsafeRawBufferPointer(rebasing: bytes[offset...]),
                maxBodySize: limit
            ), claimedSize != nil {
                suspect = claimedPosition
            }
            if let suspect {
                if suspect <= result.state.end {
                    result.state.markDamaged(suspect)
                } else {
                    lateSuspects.append(suspect)
                }
            }
            let report = CorruptionReport(
                segment: path,
                offset: offset,
                length: resume - offset,
                suspectedPosition: suspect
            )
            logger.error("damaged records in a segment", metadata: ["report": "\(report)"])
            result.corruption.append(report)
            guard let next else { break }
            offset = next
        }
        if newest && !damaged {
            result.append = (segment, offset)
        }
    }

    /// Applies valid records from `offset` on; returns the offset of the first invalid one.
    private func replay(
        _ bytes: UnsafeRawBufferPointer,
        from start: Int,
        number: UInt64,
        limit: Int,
        into state: inout StoreState
    ) -> Int {
        var offset = start
        while offset + RecordFormat.headerSize + RecordFormat.trailerSize <= bytes.count {
            guard
                case .valid(let decoded, let size, _) = RecordFormat.probe(
                    UnsafeRawBufferPointer(rebasing: bytes[offset...]),
                    maxBodySize: limit
                )
            else { break }
            switch decoded {
            case .action(let action):
                var truncateTo: Position?
                if case .truncate(let to) = action.value { truncateTo = to }
                state.applyAction(
                    position: action.position,
                    learned: action.learned,
                    truncateTo: truncateTo,
                    segment: number,
                    offset: offset
                )
            case .learned(let first, let count, _):
                state.applyLearned(first: first, count: count, segment: number)
            }
            offset += size
        }
        return offset
    }

    /// The first offset at or after `start` (8-byte aligned) holding a valid record whose batch
    /// start satisfies `accept`.
    private func findValid(
        _ bytes: UnsafeRawBufferPointer,
        from start: Int,
        limit: Int,
        accept: (Int) -> Bool
    ) -> Int? {
        var offset = start
        while offset + RecordFormat.headerSize + RecordFormat.trailerSize <= bytes.count {
            if case .valid(_, _, let batchStart) = RecordFormat.probe(
                UnsafeRawBufferPointer(rebasing: bytes[offset...]),
                maxBodySize: limit
            ), accept(Int(batchStart)) {
                return offset
            }
            offset += RecordFormat.alignment
        }
        return nil
    }

    /// The offset of the last non-zero byte at or after `start`, or `start - 1` when all are zero.
    static func lastNonZeroByte(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        var end = bytes.count
        let base = bytes.baseAddress!
        while end - 8 >= start {
            if base.loadUnaligned(fromByteOffset: end - 8, as: UInt64.self) != 0 { break }
            end -= 8
        }
        while end > start {
            if base.load(fromByteOffset: end - 1, as: UInt8.self) != 0 { return end - 1 }
            end -= 1
        }
        return start - 1
    }
}
