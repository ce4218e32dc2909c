/// Why bytes off the wire could not be decoded.
///
/// Each case names what was wrong and where, so that a log line is enough to find the faulty
/// peer. Offsets of message-level errors count from the first byte of the payload (the byte after
/// the 20-byte frame header).
public enum WireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The first four bytes of a frame were not `RPLG`.
    case badMagic(found: UInt32)
    /// The frame header carries a protocol version this implementation does not speak.
    case unsupportedVersion(found: UInt8, supported: ClosedRange<UInt8>)
    /// The frame header sets flag bits that this version does not define.
    case unknownFlags(UInt16)
    /// The frame header announces a payload above the receiver's limit; nothing of it was buffered.
    case frameTooLarge(length: UInt32, limit: UInt32)
    /// The connection ended in the middle of a frame.
    case truncatedFrame(available: Int, needed: Int)
    /// The frame's type code names no message of this protocol version.
    case unknownMessageType(UInt8)
    /// A field (or a length or count in front of it) needs more bytes than the payload has left.
    case truncatedPayload(type: MessageType, field: String, offset: Int, needed: UInt64, available: Int)
    /// The payload goes on after the message's last field.
    case trailingBytes(type: MessageType, offset: Int, count: Int)
    /// A field holds a value its type does not allow.
    case invalidField(type: MessageType, field: String, offset: Int, reason: String)
    /// An entry is larger than the protocol's maximum entry size.
    case entryTooLarge(type: MessageType, offset: Int, size: UInt32, limit: UInt32)

    public var description: String {
        switch self {
        case .badMagic(let found):
            return "frame does not start with the magic 'RPLG' (found 0x\(String(found, radix: 16))):"
                + " the peer does not speak the replog protocol (is it plaintext talking to TLS, or another service?)"
        case .unsupportedVersion(let found, let supported):
            return "frame uses protocol version \(found) but this process speaks versions"
                + " \(supported.lowerBound)...\(supported.upperBound): upgrade the older side"
        case .unknownFlags(let flags):
            return "frame header sets unknown flag bits 0x\(String(flags, radix: 16)): the peer speaks a newer protocol"
        case .frameTooLarge(let length, let limit):
            return "frame announces a \(length)-byte payload, above the limit of \(limit) bytes:"
                + " send smaller batches or raise the receiver's limit"
        case .truncatedFrame(let available, let needed):
            return "connection closed in the middle of a frame: \(available) of \(needed) bytes arrived"
        case .unknownMessageType(let type):
            return "unknown message type 0x\(String(type, radix: 16)): the peer speaks a newer protocol"
        case .truncatedPayload(let type, let field, let offset, let needed, let available):
            return "\(type) payload ends inside field '\(field)' at offset \(offset):"
                + " it needs \(needed) bytes but only \(available) remain"
        case .trailingBytes(let type, let offset, let count):
            return "\(type) payload has \(count) unexpected bytes after its last field, at offset \(offset)"
        case .invalidField(let type, let field, let offset, let reason):
            return "\(type) field '\(field)' at offset \(offset) is invalid: \(reason)"
        case .entryTooLarge(let type, let offset, let size, let limit):
            return "\(type) entry at offset \(offset) is \(size) bytes, above the \(limit)-byte entry limit:"
                + " split it into smaller entries"
        }
    }

    /// The error code a process answers with when it receives such bytes.
    public var code: ErrorCode {
        switch self {
        case .badMagic, .unknownFlags, .truncatedFrame: .malformedFrame
        case .unsupportedVersion: .unsupportedVersion
        case .frameTooLarge: .frameTooLarge
        case .unknownMessageType: .unknownMessageType
        case .truncatedPayload, .trailingBytes, .invalidField: .malformedMessage
        case .entryTooLarge: .entryTooLarge
        }
    }

    /// Whether the connection can go on after this error. Frame-level errors lose the frame
    /// boundary and end the connection; a bad message inside a well-framed frame does not.
    public var isFatalToConnection: Bool {
        switch self {
        case .badMagic, .unsupportedVersion, .unknownFlags, .frameTooLarge, .truncatedFrame: true
        case .unknownMessageType, .truncatedPayload, .trailingBytes, .invalidField, .entryTooLarge: false
        }
    }
}

extension ErrorReply {
    /// The typed reply that tells a peer what was wrong with the bytes it sent.
    public init(_ error: WireError) {
        self.init(code: error.code, text: error.description)
    }
}
