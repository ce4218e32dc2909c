public import ReplogWire

/// The identity of a replica or coordinator inside the consensus core.
///
/// The shell maps it to an address and a connection; the core only needs something small and
/// hashable to count votes by.
public struct NodeID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { "n\(rawValue)" }
}

/// A message received from a peer, with what the shell knows about where it came from.
///
/// `session` identifies the sender's process lifetime (for example its boot id from the hello, or
/// the connection it arrived on). A proposer counts a write acceptance only from the same session
/// that gave it the promise: a replica whose disk was wiped comes back as a new session and must
/// not let an old promise be combined with a new acceptance.
public struct Incoming: Sendable, Hashable {
    public var envelope: Envelope
    public var from: NodeID
    public var session: UInt64
    public init(_ envelope: Envelope, from: NodeID, session: UInt64 = 0) {
        self.envelope = envelope
        self.from = from
        self.session = session
    }
}

/// A small, fast, seedable generator (SplitMix64). The core never draws randomness itself: the
/// shell seeds this from the system generator, the simulator from its seed.
public struct SplitMix64: RandomNumberGenerator, Sendable, Hashable {
    public var state: UInt64
    public init(seed: UInt64) { self.state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Duration {
    /// A uniformly random duration in `low ..< high` drawn from `generator`.
    static func random(in low: Duration, _ high: Duration, using generator: inout SplitMix64) -> Duration {
        let lowNanos = low.nanoseconds
        let span = max(1, high.nanoseconds - lowNanos)
        return .nanoseconds(lowNanos + Int64(generator.next() % UInt64(span)))
    }

    /// The duration in whole nanoseconds (saturating).
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue + attoseconds / 1_000_000_000
    }
}
