public import NIOCore

/// Idle keep-alive and dead-peer detection settings for a connection.
///
/// After `interval` without receiving anything, a ping is sent; if the next `interval` passes
/// with still nothing received, the peer is declared dead and the connection is closed. A dead
/// peer is therefore noticed within two intervals.
public struct KeepAlive: Sendable, Hashable {
    public var interval: TimeAmount

    public init(interval: TimeAmount = .seconds(5)) {
        self.interval = interval
    }
}

/// What a connection does about an idle period, as a pure decision.
struct KeepAliveState {
    private(set) var pingOutstanding = false
    private(set) var nonce: UInt64 = 0

    enum Action: Equatable {
        case sendPing(nonce: UInt64)
        case closeDeadPeer
    }

    /// Anything arrived from the peer: it is alive.
    mutating func received() { pingOutstanding = false }

    /// An interval passed with nothing received.
    mutating func idle() -> Action {
        if pingOutstanding { return .closeDeadPeer }
        pingOutstanding = true
        nonce &+= 1
        return .sendPing(nonce: nonce)
    }
}

/// The error a connection closes with when its peer stopped answering.
public struct DeadPeerError: Error, Sendable, CustomStringConvertible {
    public var peer: String
    public var silence: TimeAmount
    public var description: String {
        "\(peer) sent nothing for \(silence.nanoseconds / 1_000_000) ms, not even a pong: closing the connection"
    }
}
