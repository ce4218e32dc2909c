public import Logging
public import NIOCore
public import ReplogModel
import ReplogNet
public import ReplogWire

/// The Swift client of a replog cluster.
///
/// It finds the leading coordinator (following `notLeader` redirects), retries what can be
/// retried within ``ClientConfiguration/operationTimeout``, and gives every append an
/// idempotency token that its retries reuse, so that the coordinator applies it at most once.
public actor ReplogClient {
    public let configuration: ClientConfiguration
    let logger: Logger
    /// This client's identity for idempotency tokens: random per client instance.
    public nonisolated let clientToken: UInt64
    private var sequence: UInt64 = 0
    private var links: [Endpoint: PeerLink] = [:]
    private var leader: Endpoint?
    private var rotation = 0
    private var generator = SystemRandomNumberGenerator()

    public init(configuration: ClientConfiguration, logger: Logger = Logger(label: "replog.client")) {
        self.configuration = configuration
        self.logger = logger
        var random = SystemRandomNumberGenerator()
        // Zero turns de-duplication off on the wire; never use it.
        self.clientToken = max(1, random.next())
    }

    // MARK: Operations

    /// Appends one entry and returns the position it was learned at.
    public func append(_ bytes: ByteBuffer) async throws -> Position {
        try await append(batch: [bytes]).lowerBound
    }

    /// Appends entries at consecutive positions, in one request; returns their positions.
    public func append(batch entries: [ByteBuffer]) async throws -> ClosedRange<Position> {
        precondition(!entries.isEmpty, "append at least one entry")
        sequence += 1
        let request = AppendRequest(token: AppendToken(client: clientToken, sequence: sequence), entries: entries)
        let answer = try await perform("append", .appendRequest(request))
        guard case .appendResponse(let response) = answer, response.count == UInt32(entries.count) else {
            throw ReplogClientError.unexpectedAnswer(
                operation: "append",
                answer: MessageTypeName(name: "\(answer.type)")
            )
        }
        return response.position...(response.position + UInt64(response.count) - 1)
    }

    /// Truncates the log: every position below `position` is removed. Returns the position of
    /// the TRUNCATE action.
    public func truncate(to position: Position) async throws -> Position {
        let answer = try await perform("truncate", .truncateRequest(TruncateRequest(to: position)))
        guard case .truncateResponse(let response) = answer else {
            throw ReplogClientError.unexpectedAnswer(
                operation: "truncate",
                answer: MessageTypeName(name: "\(answer.type)")
            )
        }
        return response.position
    }

    /// The first and last positions of the log.
    public func positions() async throws -> PositionsResponse {
        let answer = try await perform("positions", .positionsRequest)
        guard case .positionsResponse(let response) = answer else {
            throw ReplogClientError.unexpectedAnswer(
                operation: "positions",
                answer: MessageTypeName(name: "\(answer.type)")
            )
        }
        return response
    }

    /// The log's first position (Mesos's `beginning()`).
    public func beginning() async throws -> Position { try await positions().begin }

    /// The log's last position (Mesos's `ending()`).
    public func ending() async throws -> Position { try await positions().end }

    /// The cluster as the leading coordinator sees it.
    public func status() async throws -> StatusResponse {
        let answer = try await perform("status", .statusRequest)
        guard case .statusResponse(let response) = answer else {
            throw ReplogClientError.unexpectedAnswer(
                operation: "status",
                answer: MessageTypeName(name: "\(answer.type)")
            )
        }
        return response
    }

    /// One page of entries from `from` (inclusive) up to `to`.
    public func readPage(from: Position, to: Position) async throws -> ReadResponse {
        let request = ReadRequest(
            from: from,
            to: to,
            maxEntries: configuration.readBatchEntries,
            maxBytes: configuration.readBatchBytes
        )
        let answer = try await perform("read", .readRequest(request))
        guard case .readResponse(let response) = answer else {
            throw ReplogClientError.unexpectedAnswer(operation: "read", answer: MessageTypeName(name: "\(answer.type)"))
        }
        return response
    }

    /// The entries from `from` up to `to` (inclusive), or up to the end the log had when reading
    /// reached it when `to` is nil.
    public nonisolated func read(from: Position, to: Position? = nil) -> LogEntries {
        LogEntries(client: self, from: from, to: to, follow: false)
    }

    /// The entries from `from` on, following new entries as they are learned, until the task
    /// consuming them is cancelled.
    public nonisolated func tail(from: Position) -> LogEntries {
        LogEntries(client: self, from: from, to: nil, follow: true)
    }

    public func close() async {
        for link in links.values { await link.close() }
        links.removeAll()
    }

    // MARK: Finding the leader and retrying

    private func link(to endpoint: Endpoint) -> PeerLink {
        if let link = links[endpoint] { return link }
        var options = configuration.connection
        options.requestTimeout = configuration.requestTimeout
        let link = PeerLink(
            host: endpoint.host,
            port: endpoint.port,
            identity: PeerIdentity(clusterID: configuration.clusterID, role: .client, nodeID: configuration.name),
            security: configuration.security,
            options: options,
            backoff: Backoff(initial: .milliseconds(20), maximum: .milliseconds(500)),
            logger: logger
        )
        links[endpoint] = link
        return link
    }

    /// The coordinator to ask next: the known leader, else the configured ones in turn.
    private func target() throws -> Endpoint {
        if let leader { return leader }
        guard !configuration.coordinators.isEmpty else { throw ReplogClientError.noCoordinators }
        return configuration.coordinators[rotation % configuration.coordinators.count]
    }

    private func forgetLeader() {
        leader = nil
        rotation += 1
    }

    /// Sends `message` until it gets an answer, following redirects and retrying what a retry
    /// can fix, within the operation timeout.
    func perform(_ operation: String, _ message: Message) async throws -> Message {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + configuration.operationTimeout
        // Short waits: while coordinators fail over, the new leader should be found within a
        // fraction of a second of its election.
        var backoff = Backoff(initial: .milliseconds(20), maximum: .milliseconds(250))
        var lastError = "none"
        var redirects = 0
        while clock.now < deadline {
            let endpoint = try target()
            let remaining = deadline - clock.now
            let attemptTimeout = min(configuration.requestTimeout, .nanoseconds(Int64(remaining.nanoseconds)))
            do {
                let answer = try await link(to: endpoint).request(message, timeout: attemptTimeout)
                leader = endpoint
                return answer
            } catch let reply as ErrorReply {
                lastError = "\(endpoint): \(reply.code): \(reply.text)"
                switch reply.code {
                case .notLeader:
                    // Follow hints at once, but not in circles: coordinators that disagree for a
                    // moment (during a fail-over) could send the client back and forth.
                    if let hinted = Endpoint(reply.hint), hinted != endpoint, redirects < 3 {
                        redirects += 1
                        logger.debug(
                            "following redirect",
                            metadata: ["client/from": "\(endpoint)", "client/to": "\(hinted)"]
                        )
                        leader = hinted
                        continue
                    }
                    redirects = 0
                    forgetLeader()
                case .unavailable, .overloaded, .timeout:
                    break
                case .truncated:
                    throw ReplogClientError.truncated(restartFrom: reply.value)
                case .recoveryInProgress:
                    // Only an operator's commit or unload ends it: retrying would just wait.
                    throw ReplogClientError.recoveryInProgress(reply.text)
                default:
                    throw ReplogClientError.rejected(reply)
                }
            } catch RPCError.refused(let reply, _)
                where [.clusterMismatch, .roleNotAllowed, .unsupportedVersion].contains(reply.code)
            {
                // The coordinator refused this client itself: no retry will change its mind.
                throw ReplogClientError.rejected(reply)
            } catch {
                lastError = "\(endpoint): \(ErrorText.describe(error))"
                forgetLeader()
            }
            let delay = backoff.next(using: &generator)
            guard clock.now + delay < deadline else { break }
            try await Task.sleep(for: delay)
        }
        throw ReplogClientError.deadlineExceeded(operation: operation, after: clock.now - start, lastError: lastError)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
