public import ReplogWire

/// Why a request got no answer.
public enum RPCError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No response within the request's timeout; whether the peer acted on it is unknown.
    case timeout(request: MessageType, after: Duration, peer: String)
    /// The connection closed before the response arrived.
    case connectionClosed(peer: String)
    /// Too many requests are outstanding on this connection.
    case overloaded(limit: Int, peer: String)
    /// The peer refused the connection in its handshake.
    case refused(ErrorReply, peer: String)
    /// The peer did not complete the handshake in time.
    case handshakeTimeout(peer: String, after: Duration)
    /// The peer answered the handshake with something other than a hello-ack.
    case handshakeViolation(peer: String, detail: String)

    public var description: String {
        switch self {
        case .timeout(let request, let after, let peer):
            return "\(request) to \(peer) got no answer within \(after); its outcome is unknown"
        case .connectionClosed(let peer):
            return "the connection to \(peer) closed before the answer arrived"
        case .overloaded(let limit, let peer):
            return "\(limit) requests are already outstanding to \(peer); retry later"
        case .refused(let reply, let peer):
            return "\(peer) refused the connection: \(reply.text)"
        case .handshakeTimeout(let peer, let after):
            return "\(peer) did not answer the hello within \(after)"
        case .handshakeViolation(let peer, let detail):
            return "\(peer) broke the handshake: \(detail)"
        }
    }
}
