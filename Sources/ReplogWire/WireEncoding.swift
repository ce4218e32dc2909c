public import NIOCore
public import ReplogModel

// The primitive encodings of SPEC.md section "Field encodings". Every integer is big-endian.
extension ByteBuffer {
    /// Writes a string as a u16 byte length followed by its UTF-8 bytes.
    @inlinable
    public mutating func writeWireString(_ string: String) {
        let lengthIndex = writerIndex
        writeInteger(UInt16(0))
        let written = writeString(string)
        precondition(written <= Int(UInt16.max), "wire strings are limited to 65535 bytes")
        setInteger(UInt16(written), at: lengthIndex)
    }

    /// Writes bytes as a u32 length followed by the bytes.
    @inlinable
    public mutating func writeWireBytes(_ bytes: ByteBuffer) {
        writeInteger(UInt32(bytes.readableBytes))
        writeImmutableBuffer(bytes)
    }

    @inlinable
    public mutating func writeWireBool(_ value: Bool) {
        writeInteger(value ? UInt8(1) : UInt8(0))
    }

    public mutating func writeClusterID(_ id: ClusterID) {
        writeMultipleIntegers(id.high, id.low)
    }

    /// Writes an action value: a kind byte (0 none, 1 NOP, 2 APPEND, 3 TRUNCATE) and its body.
    @inlinable
    public mutating func writeActionValue(_ value: ActionValue?) {
        switch value {
        case nil:
            writeInteger(UInt8(0))
        case .nop(let tombstone)?:
            writeMultipleIntegers(UInt8(1), tombstone ? UInt8(1) : UInt8(0))
        case .append(let bytes)?:
            writeInteger(UInt8(2))
            writeWireBytes(bytes)
        case .truncate(let to)?:
            writeMultipleIntegers(UInt8(3), to)
        }
    }

    /// Writes an action: position, promised, flags (bit 0 performed, bit 1 learned), the performed
    /// proposal when bit 0 is set, then its value.
    @inlinable
    public mutating func writeAction(_ action: Action) {
        var flags: UInt8 = 0
        if action.performed != nil { flags |= 0b01 }
        if action.learned { flags |= 0b10 }
        writeMultipleIntegers(action.position, action.promised, flags)
        if let performed = action.performed { writeInteger(performed) }
        writeActionValue(action.value)
    }
}
