import ReplogModel

/// What a durable record changes in the derived state.
enum IndexUpdate {
    case action(position: Position, learned: Bool, truncateTo: Position?)
    case learned(first: Position, count: UInt64)
}

/// Records encoded and checksummed by the caller, in one buffer, waiting for the I/O thread to
/// place them, seal them (batch offset and final checksum) and write them.
final class EncodedBatch: @unchecked Sendable {
    struct Record {
        var bufferOffset: Int
        var bodySize: Int
        var size: Int
        var partialCRC: UInt32
        var update: IndexUpdate
    }

    let base: UnsafeMutableRawPointer
    let byteCount: Int
    private(set) var records: [Record] = []

    private init(byteCount: Int) {
        self.byteCount = byteCount
        base = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 8), alignment: 8)
    }

    deinit { base.deallocate() }

    /// Encodes `actions`; throws when one is inconsistent or larger than `maxRecordSize`.
    static func actions(_ actions: [Action], maxRecordSize: Int) throws -> EncodedBatch {
        var total = 0
        for action in actions {
            if let problem = action.inconsistency {
                throw StorageError.invalidRequest("position \(action.position): \(problem)")
            }
            let size = RecordFormat.alignedSize(bodySize: RecordFormat.bodySize(of: action))
            if size > maxRecordSize { throw StorageError.recordTooLarge(bytes: size, limit: maxRecordSize) }
            total += size
        }
        let batch = EncodedBatch(byteCount: total)
        var offset = 0
        batch.records.reserveCapacity(actions.count)
        for action in actions {
            let body = RecordFormat.bodySize(of: action)
            let crc = RecordFormat.encode(action, into: batch.base + offset)
            var truncateTo: Position?
            if case .truncate(let to) = action.value { truncateTo = to }
            let size = RecordFormat.alignedSize(bodySize: body)
            batch.records.append(
                Record(
                    bufferOffset: offset,
                    bodySize: body,
                    size: size,
                    partialCRC: crc,
                    update: .action(position: action.position, learned: action.learned, truncateTo: truncateTo)
                )
            )
            offset += size
        }
        return batch
    }

    static func learned(first: Position, count: UInt64, proposal: Proposal) -> EncodedBatch {
        let size = RecordFormat.alignedSize(bodySize: RecordFormat.learnedBodySize)
        let batch = EncodedBatch(byteCount: size)
        let crc = RecordFormat.encodeLearned(first: first, count: count, proposal: proposal, into: batch.base)
        batch.records.append(
            Record(
                bufferOffset: 0,
                bodySize: RecordFormat.learnedBodySize,
                size: size,
                partialCRC: crc,
                update: .learned(first: first, count: count)
            )
        )
        return batch
    }
}
