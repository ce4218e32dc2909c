public import NIOCore

/// The flags field of a frame header.
public struct FrameFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The frame answers the request that carried the same request id.
    public static let response = FrameFlags(rawValue: 1 << 0)

    /// Every flag version 1 defines; a frame with any other bit set is malformed.
    public static let known: FrameFlags = [.response]
}

/// The fixed 20-byte header in front of every payload.
public struct FrameHeader: Sendable, Hashable {
    public var version: UInt8
    /// The raw type code; it may name a type this implementation does not know.
    public var type: UInt8
    public var flags: FrameFlags
    public var requestID: UInt64
    public var payloadLength: UInt32

    public init(version: UInt8, type: UInt8, flags: FrameFlags, requestID: UInt64, payloadLength: UInt32) {
        self.version = version
        self.type = type
        self.flags = flags
        self.requestID = requestID
        self.payloadLength = payloadLength
    }
}

/// A frame whose header is checked and whose payload is complete but not yet decoded.
///
/// Keeping the payload as a slice lets a relay forward it, and lets an unknown type be answered
/// with a typed error while the connection stays usable.
public struct Frame: Sendable, Hashable {
    public var header: FrameHeader
    public var payload: ByteBuffer

    public init(header: FrameHeader, payload: ByteBuffer) {
        self.header = header
        self.payload = payload
    }
}

/// A decoded message together with the frame fields that route it.
public struct Envelope: Sendable, Hashable {
    public var requestID: UInt64
    public var flags: FrameFlags
    public var message: Message

    public init(requestID: UInt64, flags: FrameFlags = [], message: Message) {
        self.requestID = requestID
        self.flags = flags
        self.message = message
    }

    /// A request (or one-way message) with the given id.
    public static func request(_ message: Message, id: UInt64) -> Envelope {
        Envelope(requestID: id, flags: [], message: message)
    }

    /// A response to request `id`.
    public static func response(_ message: Message, to id: UInt64) -> Envelope {
        Envelope(requestID: id, flags: .response, message: message)
    }

    public var isResponse: Bool { flags.contains(.response) }
}
