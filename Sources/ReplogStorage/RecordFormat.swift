import NIOCore
import ReplogModel

/// The layout of one record in a segment file.
///
/// ```
/// 0   length   u32 LE   body length L
/// 4   type     u8       1 = action, 2 = learned range
/// 5   reserved 3 bytes  zero
/// 8   body     L bytes
/// 8+L batch    u32 LE   segment offset of the first record of the write batch (group commit)
/// 12+L crc     u32 LE   CRC-32C of bytes [0, 12+L)
/// then zero padding to a multiple of 8 bytes
/// ```
/// The batch offset lets recovery tell a torn tail (the damage lies in the last, never acknowledged
/// batch) from corruption (a later batch exists, so the damaged one had been made durable).
/// The checksum sits after the body so callers can checksum the body on their own thread and the
/// I/O thread only finishes it over the four batch bytes.
enum RecordFormat {
    static let headerSize = 8
    static let trailerSize = 8
    static let alignment = 8

    enum RecordType: UInt8 {
        case action = 1
        case learned = 2
    }

    /// Size of the fixed part of an action body.
    static let actionFixedSize = 32
    static let learnedBodySize = 24

    static func alignedSize(bodySize: Int) -> Int {
        (headerSize + bodySize + trailerSize + alignment - 1) & ~(alignment - 1)
    }

    static func bodySize(of action: Action) -> Int {
        switch action.value {
        case .none, .nop: actionFixedSize
        case .truncate: actionFixedSize + 8
        case .append(let bytes): actionFixedSize + bytes.readableBytes
        }
    }

    enum ValueKind: UInt8 {
        case none = 0
        case nop = 1
        case tombstone = 2
        case append = 3
        case truncate = 4
    }

    static func store(_ value: UInt64, at offset: Int, in base: UnsafeMutableRawPointer) {
        base.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self)
    }

    static func store(_ value: UInt32, at offset: Int, in base: UnsafeMutableRawPointer) {
        base.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt32.self)
    }

    static func load64(_ base: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    static func load32(_ base: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Writes header and action body at `base` (which has room for `alignedSize`), zeroes the
    /// trailer and padding, and returns the checksum of header and body.
    static func encode(_ action: Action, into base: UnsafeMutableRawPointer) -> UInt32 {
        let body = bodySize(of: action)
        store(UInt32(body), at: 0, in: base)
        base.storeBytes(of: RecordType.action.rawValue, toByteOffset: 4, as: UInt8.self)
        (base + 5).initializeMemory(as: UInt8.self, repeating: 0, count: 3)
        let b = base + headerSize
        store(action.position, at: 0, in: b)
        store(action.promised, at: 8, in: b)
        store(action.performed ?? 0, at: 16, in: b)
        var flags: UInt8 = 0
        if action.performed != nil { flags |= 1 }
        if action.learned { flags |= 2 }
        b.storeBytes(of: flags, toByteOffset: 24, as: UInt8.self)
        let kind: ValueKind
        switch action.value {
        case .none: kind = .none
        case .nop(let tombstone): kind = tombstone ? .tombstone : .nop
        case .append: kind = .append
        case .truncate: kind = .truncate
        }
        b.storeBytes(of: kind.rawValue, toByteOffset: 25, as: UInt8.self)
        (b + 26).initializeMemory(as: UInt8.self, repeating: 0, count: 6)
        switch action.value {
        case .truncate(let to): store(to, at: actionFixedSize, in: b)
        case .append(let bytes):
            bytes.withUnsafeReadableBytes { raw in
                if raw.count > 0 { (b + actionFixedSize).copyMemory(from: raw.baseAddress!, byteCount: raw.count) }
            }
        default: break
        }
        let total = alignedSize(bodySize: body)
        (base + headerSize + body).initializeMemory(as: UInt8.self, repeating: 0, count: total - headerSize - body)
        return replogCRC(UnsafeRawBufferPointer(start: base, count: headerSize + body))
    }

    static func encodeLearned(
        first: Position,
        count: UInt64,
        proposal: Proposal,
        into base: UnsafeMutableRawPointer
    ) -> UInt32 {
        store(UInt32(learnedBodySize), at: 0, in: base)
        base.storeBytes(of: RecordType.learned.rawValue, toByteOffset: 4, as: UInt8.self)
        (base + 5).initializeMemory(as: UInt8.self, repeating: 0, count: 3)
        store(first, at: headerSize, in: base)
        store(count, at: headerSize + 8, in: base)
        store(proposal, at: headerSize + 16, in: base)
        let total = alignedSize(bodySize: learnedBodySize)
        (base + headerSize + learnedBodySize).initializeMemory(
            as: UInt8.self,
            repeating: 0,
            count: total - headerSize - learnedBodySize
        )
        return replogCRC(UnsafeRawBufferPointer(start: base, count: headerSize + learnedBodySize))
    }

    /// Finishes a record once the I/O thread knows where its batch starts.
    static func seal(_ base: UnsafeMutableRawPointer, bodySize: Int, partialCRC: UInt32, batchStart: UInt32) {
        store(batchStart, at: headerSize + bodySize, in: base)
        let crc = replogCRC(
            UnsafeRawBufferPointer(start: base + headerSize + bodySize, count: 4),
            continuing: partialCRC
        )
        store(crc, at: headerSize + bodySize + 4, in: base)
    }

    /// A record read back from a file.
    enum Decoded {
        case action(Action)
        case learned(first: Position, count: UInt64, proposal: Proposal)
    }

    /// The outcome of looking at the bytes at some offset.
    enum Probe {
        /// A valid record of `size` aligned bytes.
        case valid(Decoded, size: Int, batchStart: UInt32)
        /// Not a valid record; `claimedSize` is the aligned size its header claims when plausible.
        case invalid(claimedSize: Int?, claimedPosition: Position?)
        /// The header is all zeros: nothing was ever written here.
        case zero
    }

    /// Checks and decodes the record starting at `bytes[0]` (which extends to the end of the segment).
    static func probe(_ bytes: UnsafeRawBufferPointer, maxBodySize: Int) -> Probe {
        guard bytes.count >= headerSize + trailerSize, let base = bytes.baseAddress else {
            return .invalid(claimedSize: nil, claimedPosition: nil)
        }
        if load64(base, 0) == 0 { return .zero }
        let length = Int(load32(base, 0))
        let typeByte = base.load(fromByteOffset: 4, as: UInt8.self)
        guard let type = RecordType(rawValue: typeByte), length <= maxBodySize,
            base.load(fromByteOffset: 5, as: UInt8.self) == 0,
            base.loadUnaligned(fromByteOffset: 6, as: UInt16.self) == 0
        else { return .invalid(claimedSize: nil, claimedPosition: nil) }
        let size = alignedSize(bodySize: length)
        let claimedPosition = length >= 8 && bytes.count >= headerSize + 8 ? load64(base, headerSize) : nil
        guard size <= bytes.count else { return .invalid(claimedSize: nil, claimedPosition: claimedPosition) }
        let crc = replogCRC(UnsafeRawBufferPointer(start: base, count: headerSize + length + 4))
        guard crc == load32(base, headerSize + length + 4) else {
            return .invalid(claimedSize: size, claimedPosition: claimedPosition)
        }
        let batchStart = load32(base, headerSize + length)
        let body = UnsafeRawBufferPointer(start: base + headerSize, count: length)
        guard let decoded = decodeBody(type: type, body) else {
            return .invalid(claimedSize: size, claimedPosition: claimedPosition)
        }
        return .valid(decoded, size: size, batchStart: batchStart)
    }

    static func decodeBody(type: RecordType, _ body: UnsafeRawBufferPointer) -> Decoded? {
        let b = body.baseAddress!
        switch type {
        case .learned:
            guard body.count == learnedBodySize else { return nil }
            return .learned(first: load64(b, 0), count: load64(b, 8), proposal: load64(b, 16))
        case .action:
            guard body.count >= actionFixedSize else { return nil }
            let flags = b.load(fromByteOffset: 24, as: UInt8.self)
            guard flags & ~3 == 0, let kind = ValueKind(rawValue: b.load(fromByteOffset: 25, as: UInt8.self)) else {
                return nil
            }
            let extra = body.count - actionFixedSize
            let value: ActionValue?
            switch kind {
            case .none:
                guard extra == 0 else { return nil }
                value = nil
            case .nop, .tombstone:
                guard extra == 0 else { return nil }
                value = .nop(tombstone: kind == .tombstone)
            case .truncate:
                guard extra == 8 else { return nil }
                value = .truncate(to: load64(b, actionFixedSize))
            case .append:
                var buffer = ByteBufferAllocator().buffer(capacity: extra)
                buffer.writeBytes(UnsafeRawBufferPointer(start: b + actionFixedSize, count: extra))
                value = .append(buffer)
            }
            let action = Action(
                position: load64(b, 0),
                promised: load64(b, 8),
                performed: flags & 1 != 0 ? load64(b, 16) : nil,
                learned: flags & 2 != 0,
                value: value
            )
            guard action.inconsistency == nil else { return nil }
            return .action(action)
        }
    }
}

@inline(__always)
func replogCRC(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
    CRC32C.checksum(bytes, continuing: crc)
}
