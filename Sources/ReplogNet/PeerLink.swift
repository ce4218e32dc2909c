public import Logging
public import NIOCore
import NIOPosix
public import ReplogWire

/// A lasting link to one peer: connects on first use, notices when the connection dies, and
/// reconnects with jittered exponential back-off, so that callers just send requests.
///
/// While the peer is down, callers fail fast with the last connect error instead of each
/// waiting for its own connect attempt; a new attempt is made once the back-off delay passed.
public actor PeerLink {
    public let host: String
    public let port: Int
    let identity: PeerIdentity
    let security: TransportSecurity
    let options: ConnectionOptions
    let logger: Logger
    private var current: RPCConnection?
    private var backoff: Backoff
    private var nextAttempt: ContinuousClock.Instant?
    private var lastError: (any Error)?
    private var connecting: Task<RPCConnection, any Error>?
    private var generator: SystemRandomNumberGenerator
    /// Counts the connections made so far; the answer of a request carries the number of the
    /// connection it came on, so that callers can tell a peer's restart (a new connection) apart.
    public private(set) var generation: UInt64 = 0

    public init(
        host: String,
        port: Int,
        identity: PeerIdentity,
        security: TransportSecurity,
        options: ConnectionOptions = ConnectionOptions(),
        backoff: Backoff = Backoff(),
        logger: Logger
    ) {
        self.host = host
        self.port = port
        self.identity = identity
        self.security = security
        self.options = options
        self.backoff = backoff
        self.logger = logger
        self.generator = SystemRandomNumberGenerator()
    }

    /// The live connection, connecting first if there is none and the back-off allows it.
    public func connection() async throws -> RPCConnection {
        if let current, current.isActive { return current }
        current = nil
        if let connecting { return try await connecting.value }
        if let nextAttempt, ContinuousClock.now < nextAttempt, let lastError { throw lastError }
        let task = Task { [host, port, identity, security, options] in
            try await RPCConnection.connect(
                host: host,
                port: port,
                identity: identity,
                security: security,
                options: options
            )
        }
        connecting = task
        defer { connecting = nil }
        do {
            let connection = try await task.value
            current = connection
            generation += 1
            backoff.reset()
            nextAttempt = nil
            lastError = nil
            logger.debug(
                "connected",
                metadata: ["net/peer": "\(host):\(port)", "net/node": "\(connection.peer.identity)"]
            )
            return connection
        } catch {
            let delay = backoff.next(using: &generator)
            nextAttempt = ContinuousClock.now + delay
            lastError = error
            logger.debug(
                "connect failed",
                metadata: ["net/peer": "\(host):\(port)", "net/error": "\(error)", "net/retry-in": "\(delay)"]
            )
            throw error
        }
    }

    /// Sends `message` on the current connection (connecting if needed) and returns the answer.
    public func request(_ message: Message, timeout: TimeAmount? = nil) async throws -> Message {
        try await connection().request(message, timeout: timeout)
    }

    /// Like ``request(_:timeout:)``, and also returns the ``generation`` of the connection the
    /// answer came on.
    public func requestWithGeneration(_ message: Message, timeout: TimeAmount? = nil) async throws -> (Message, UInt64)
    {
        let connection = try await connection()
        let generation = self.generation
        return (try await connection.request(message, timeout: timeout), generation)
    }

    /// Sends a one-way message.
    public func send(_ message: Message) async throws {
        try await connection().send(message)
    }

    /// Whether a connection is up right now.
    public var isConnected: Bool { current?.isActive ?? false }

    public func close() async {
        connecting?.cancel()
        await current?.close()
        current = nil
    }
}
