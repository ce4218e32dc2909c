public import NIOCore

/// Splits a byte stream into ``Frame``s.
///
/// The header is checked as soon as its 20 bytes are there — magic, version, flags and the
/// announced length against `maxFrameSize` — so that an oversized or foreign frame is refused
/// before a byte of its body is buffered.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = Frame

    public let maxFrameSize: UInt32
    public let supportedVersions: ClosedRange<UInt8>

    public init(
        maxFrameSize: UInt32 = WireLimits.maxFrameSize,
        supportedVersions: ClosedRange<UInt8> = WireLimits.protocolVersion...WireLimits.protocolVersion
    ) {
        self.maxFrameSize = maxFrameSize
        self.supportedVersions = supportedVersions
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> Frame? {
        try Self.decodeFrame(from: &buffer, maxFrameSize: maxFrameSize, supportedVersions: supportedVersions)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Frame? {
        if let frame = try decode(buffer: &buffer) { return frame }
        guard buffer.readableBytes > 0 else { return nil }
        let needed: Int
        if let length = buffer.getInteger(at: buffer.readerIndex + WireLimits.headerSize - 4, as: UInt32.self) {
            needed = WireLimits.headerSize + Int(length)
        } else {
            needed = WireLimits.headerSize
        }
        let available = buffer.readableBytes
        buffer.moveReaderIndex(forwardBy: available)
        throw WireError.truncatedFrame(available: available, needed: needed)
    }

    /// Takes one complete frame off the front of `buffer`, or returns `nil` (consuming nothing)
    /// when more bytes are needed. Throws as soon as the header is known to be bad.
    @inlinable
    public static func decodeFrame(
        from buffer: inout ByteBuffer,
        maxFrameSize: UInt32 = WireLimits.maxFrameSize,
        supportedVersions: ClosedRange<UInt8> = WireLimits.protocolVersion...WireLimits.protocolVersion
    ) throws(WireError) -> Frame? {
        guard
            let (magic, version, type, rawFlags, requestID, length) = buffer.getMultipleIntegers(
                at: buffer.readerIndex,
                as: (UInt32, UInt8, UInt8, UInt16, UInt64, UInt32).self
            )
        else {
            // Refuse a foreign stream as early as its first bytes allow.
            if buffer.readableBytes >= 4, let magic = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
                magic != WireLimits.magic
            {
                throw .badMagic(found: magic)
            }
            return nil
        }
        guard magic == WireLimits.magic else { throw .badMagic(found: magic) }
        guard supportedVersions.contains(version) else {
            throw .unsupportedVersion(found: version, supported: supportedVersions)
        }
        let flags = FrameFlags(rawValue: rawFlags)
        guard flags.isSubset(of: .known) else { throw .unknownFlags(rawFlags) }
        guard length <= maxFrameSize else { throw .frameTooLarge(length: length, limit: maxFrameSize) }
        guard buffer.readableBytes >= WireLimits.headerSize + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: WireLimits.headerSize)
        let payload = buffer.readSlice(length: Int(length))!
        let header = FrameHeader(
            version: version,
            type: type,
            flags: flags,
            requestID: requestID,
            payloadLength: length
        )
        return Frame(header: header, payload: payload)
    }
}

/// Writes ``Envelope``s as frames.
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = Envelope

    public init() {}

    public func encode(data: Envelope, out: inout ByteBuffer) throws {
        out.writeEnvelope(data)
    }
}
