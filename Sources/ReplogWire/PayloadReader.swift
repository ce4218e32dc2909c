public import NIOCore
public import ReplogModel

/// Reads the fields of one message payload, turning every shortfall or bad value into a
/// ``WireError`` that names the message, the field and its offset.
///
/// Lengths and counts are checked against the bytes that remain *before* anything is allocated,
/// so a payload that lies about a length costs nothing but the error.
public struct PayloadReader {
    @usableFromInline var buffer: ByteBuffer
    @usableFromInline let start: Int
    @usableFromInline let type: MessageType

    public init(_ payload: ByteBuffer, type: MessageType) {
        self.buffer = payload
        self.start = payload.readerIndex
        self.type = type
    }

    @inlinable var offset: Int { buffer.readerIndex - start }

    @inlinable
    func truncated(_ field: StaticString, needed: Int) -> WireError {
        .truncatedPayload(
            type: type,
            field: String(describing: field),
            offset: offset,
            needed: UInt64(needed),
            available: buffer.readableBytes
        )
    }

    @inlinable
    func invalid(_ field: StaticString, _ reason: String, at offset: Int? = nil) -> WireError {
        .invalidField(type: type, field: String(describing: field), offset: offset ?? self.offset, reason: reason)
    }

    @inlinable
    public mutating func readInteger<T: FixedWidthInteger>(_ field: StaticString, as: T.Type = T.self) throws(WireError)
        -> T
    {
        guard let value = buffer.readInteger(as: T.self) else {
            throw truncated(field, needed: MemoryLayout<T>.size)
        }
        return value
    }

    @inlinable
    public mutating func readBool(_ field: StaticString) throws(WireError) -> Bool {
        let raw: UInt8 = try readInteger(field)
        switch raw {
        case 0: return false
        case 1: return true
        default: throw invalid(field, "a boolean must be 0 or 1, found \(raw)", at: offset - 1)
        }
    }

    /// Reads a u16-length-prefixed UTF-8 string of at most `maxLength` bytes.
    public mutating func readString(_ field: StaticString, maxLength: Int) throws(WireError) -> String {
        let fieldOffset = offset
        let length = Int(try readInteger(field, as: UInt16.self))
        guard length <= maxLength else {
            throw invalid(field, "string of \(length) bytes is longer than the limit of \(maxLength)", at: fieldOffset)
        }
        guard buffer.readableBytes >= length else { throw truncated(field, needed: length) }
        let bytes = buffer.readSlice(length: length)!
        guard let string = try? bytes.getUTF8ValidatedString(at: bytes.readerIndex, length: length) else {
            throw invalid(field, "string is not valid UTF-8", at: fieldOffset)
        }
        return string
    }

    /// Reads u32-length-prefixed bytes as a slice of the payload (no copy).
    @inlinable
    public mutating func readBytes(_ field: StaticString, limit: UInt32) throws(WireError) -> ByteBuffer {
        let fieldOffset = offset
        let length: UInt32 = try readInteger(field)
        guard length <= limit else {
            throw .entryTooLarge(type: type, offset: fieldOffset, size: length, limit: limit)
        }
        guard let slice = buffer.readSlice(length: Int(length)) else {
            throw truncated(field, needed: Int(length))
        }
        return slice
    }

    /// Reads a u32 element count and checks that the payload can hold that many elements of at
    /// least `minimumElementSize` bytes each, so that the caller may reserve capacity for them.
    @inlinable
    public mutating func readCount(_ field: StaticString, minimumElementSize: Int) throws(WireError) -> Int {
        let count = Int(try readInteger(field, as: UInt32.self))
        let needed = count * minimumElementSize
        guard needed <= buffer.readableBytes else { throw truncated(field, needed: needed) }
        return count
    }

    public mutating func readClusterID(_ field: StaticString) throws(WireError) -> ClusterID {
        let high: UInt64 = try readInteger(field)
        let low: UInt64 = try readInteger(field)
        return ClusterID(high: high, low: low)
    }

    public mutating func readEnum<E: RawRepresentable>(_ field: StaticString, as: E.Type) throws(WireError) -> E
    where E.RawValue == UInt8 {
        let raw: UInt8 = try readInteger(field)
        guard let value = E(rawValue: raw) else {
            throw invalid(field, "\(raw) is not a valid \(E.self)", at: offset - 1)
        }
        return value
    }

    /// Reads an action value; `nil` stands for kind 0 (no value).
    @inlinable
    public mutating func readActionValue(_ field: StaticString) throws(WireError) -> ActionValue? {
        let kindOffset = offset
        let kind: UInt8 = try readInteger(field)
        switch kind {
        case 0: return nil
        case 1: return .nop(tombstone: try readBool(field))
        case 2: return .append(try readBytes(field, limit: WireLimits.maxEntrySize))
        case 3: return .truncate(to: try readInteger(field))
        default: throw invalid(field, "unknown action value kind \(kind)", at: kindOffset)
        }
    }

    @inlinable
    public mutating func readAction(_ field: StaticString) throws(WireError) -> Action {
        let actionOffset = offset
        let position: UInt64 = try readInteger(field)
        let promised: UInt64 = try readInteger(field)
        let flags: UInt8 = try readInteger(field)
        guard flags & ~0b11 == 0 else {
            throw invalid(field, "unknown action flag bits 0x\(String(flags, radix: 16))", at: offset - 1)
        }
        let performed: UInt64? = flags & 0b01 != 0 ? try readInteger(field) : nil
        let value = try readActionValue(field)
        let action = Action(
            position: position,
            promised: promised,
            performed: performed,
            learned: flags & 0b10 != 0,
            value: value
        )
        if let problem = action.inconsistency { throw invalid(field, problem, at: actionOffset) }
        return action
    }

    /// Fails when bytes remain after the last field.
    @inlinable
    public func finish() throws(WireError) {
        guard buffer.readableBytes == 0 else {
            throw .trailingBytes(type: type, offset: offset, count: buffer.readableBytes)
        }
    }
}
