import ReplogModel

/// What a durable record changes in the derived state.
enum IndexUpdate {
    case action(position: Position, learned: Bool, truncateTo: Position?, performed: Proposal?)
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
    /// Whether the batch holds an action. A batch of learned marks only needs no fdatasync of its
    /// own (see ``WriteEngine``).
    private(set) var needsSync = false

    private init(byteCount: Int) {
        self.byteCount = byteCount
        base = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 8), alignment: 8)
    }

    deinit { base.deallocate() }

    /// Encodes `writes` in order into one buffer, so that they become durable together (one
    /// write, one fdatasync); throws when an action is inconsistent or larger than `maxRecordSize`.
    static func writes(_ writes: [StoreWrite], maxRecordSize: Int) throws -> EncodedBatch {
        var total = 0
        var count = 0
        for write in writes {
            switch write {
            case .actions(let actions):
                for action in actions {
                    if let problem = action.inconsistency {
                        throw StorageError.invalidRequest("position \(action.position): \(problem)")
                    }
                    let size = RecordFormat.alignedSize(bodySize: RecordFormat.bodySize(of: action))
                    if size > maxRecordSize { throw StorageError.recordTooLarge(bytes: size, limit: maxRecordSize) }
                    total += size
                    count += 1
                }
            case .learned:
                total += RecordFormat.alignedSize(bodySize: RecordFormat.learnedBodySize)
                count += 1
            }
        }
        let batch = EncodedBatch(byteCount: total)
        batch.records.reserveCapacity(count)
        var offset = 0
        for write in writes {
            switch write {
            case .actions(let actions):
                if !actions.isEmpty { batch.needsSync = true }
                for action in actions {
                    let body = RecordFormat.bodySize(of: action)
                    let crc = RecordFormat.encode(action, into: batch.base + offset)
                    var truncateTo: Position?
                    if case .truncate(let to) = action.value { truncateTo = to }
                    let update = IndexUpdate.action(
                        position: action.position,
                        learned: action.learned,
                        truncateTo: truncateTo,
                        performed: action.performed
                    )
                    offset += batch.append(bodySize: body, at: offset, crc: crc, update: update)
                }
            case .learned(let first, let count, let proposal):
                let crc = RecordFormat.encodeLearned(
                    first: first,
                    count: count,
                    proposal: proposal,
                    into: batch.base + offset
                )
                let update = IndexUpdate.learned(first: first, count: count)
                offset += batch.append(bodySize: RecordFormat.learnedBodySize, at: offset, crc: crc, update: update)
            }
        }
        return batch
    }

    static func actions(_ actions: [Action], maxRecordSize: Int) throws -> EncodedBatch {
        try writes([.actions(actions)], maxRecordSize: maxRecordSize)
    }

    /// Notes a record encoded at `offset`; returns its aligned size.
    private func append(bodySize: Int, at offset: Int, crc: UInt32, update: IndexUpdate) -> Int {
        let size = RecordFormat.alignedSize(bodySize: bodySize)
        records.append(Record(bufferOffset: offset, bodySize: bodySize, size: size, partialCRC: crc, update: update))
        return size
    }
}
