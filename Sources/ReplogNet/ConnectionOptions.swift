public import CoreMetrics
public import NIOCore
public import ReplogWire

/// Limits and timers of a connection; every wait has a bound.
public struct ConnectionOptions: Sendable {
    /// The largest frame payload this side accepts (announced in the hello).
    public var maxFrameSize: UInt32 = WireLimits.maxFrameSize
    /// Requests this side may have outstanding on one connection (client) or may be working on
    /// for one connection (server; reading pauses beyond it).
    public var maxInFlight = 1024
    /// Default timeout of a request.
    public var requestTimeout: TimeAmount = .seconds(5)
    /// Time allowed for the TCP (and TLS) connect.
    public var connectTimeout: TimeAmount = .seconds(3)
    /// Time allowed for the hello exchange.
    public var handshakeTimeout: TimeAmount = .seconds(5)
    public var keepAlive = KeepAlive()
    /// Outbound bytes buffered before the channel reports itself unwritable; a server stops
    /// reading requests from a peer that does not read its responses.
    public var writeBufferWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 256 << 10, high: 4 << 20)
    /// Where a server counts `replog_rpc_refusals_total{reason}`; nil uses the bootstrapped
    /// `MetricsSystem` (a test passes its own factory instead of bootstrapping globally).
    public var metricsFactory: (any MetricsFactory)? = nil

    public init() {}
}

/// How a new connection is secured: the TLS layer (issue 5's `ReplogTLS`) plugs in here, and
/// plaintext is what you get without it (`--insecure`).
public struct TransportSecurity: Sendable {
    /// Adds the handlers that secure a new channel at the front of its pipeline, on its event
    /// loop. `serverHostname` is the name or address the client dialled (nil on the server side).
    public var configure: (@Sendable (_ channel: any Channel, _ serverHostname: String?) throws -> Void)?
    /// Checks, on the server side, that the peer's hello agrees with what its certificate proves
    /// (for example its role); returns the refusal to send, or nil.
    public var verifyHello: (@Sendable (_ hello: Hello, _ channel: any Channel) -> ErrorReply?)?

    public init(
        configure: (@Sendable (_ channel: any Channel, _ serverHostname: String?) throws -> Void)?,
        verifyHello: (@Sendable (_ hello: Hello, _ channel: any Channel) -> ErrorReply?)? = nil
    ) {
        self.configure = configure
        self.verifyHello = verifyHello
    }

    /// No TLS: only for `--insecure` and tests.
    public static let plaintext = TransportSecurity(configure: nil)

    public var isPlaintext: Bool { configure == nil }
}
