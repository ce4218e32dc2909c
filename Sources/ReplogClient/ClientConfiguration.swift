public import NIOCore
public import ReplogModel
public import ReplogNet
public import ReplogWire

/// How a ``ReplogClient`` reaches the cluster and how long it keeps trying.
public struct ClientConfiguration: Sendable {
    /// The coordinators to try; any of them redirects to the leader.
    public var coordinators: [Endpoint]
    public var clusterID: ClusterID
    /// This client's name, sent in the hello and shown in the coordinators' logs.
    public var name: String
    public var security: TransportSecurity
    /// Timeout of one attempt of a request.
    public var requestTimeout: TimeAmount = .seconds(5)
    /// Total time an operation may take, retries included; then it fails with
    /// ``ReplogClientError/deadlineExceeded(operation:after:lastError:)``.
    public var operationTimeout: Duration = .seconds(30)
    /// Entries and bytes asked for per read request.
    public var readBatchEntries: UInt32 = 1000
    public var readBatchBytes: UInt32 = 4 << 20
    /// How often `tail` asks for new entries once it has caught up.
    public var tailPollInterval: Duration = .milliseconds(50)
    public var connection = ConnectionOptions()

    public init(
        coordinators: [Endpoint],
        clusterID: ClusterID = .unknown,
        name: String,
        security: TransportSecurity
    ) {
        self.coordinators = coordinators
        self.clusterID = clusterID
        self.name = name
        self.security = security
    }
}

/// Why a client operation failed.
public enum ReplogClientError: Error, Sendable, CustomStringConvertible {
    /// The cluster refused the operation for a reason retrying cannot fix.
    case rejected(ErrorReply)
    /// The positions asked for were truncated; read again from `restartFrom`.
    case truncated(restartFrom: Position)
    /// Writes are refused because a recovery is staged on the cluster; retrying cannot help until
    /// an operator commits or unloads it. `text` is the coordinator's explanation.
    case recoveryInProgress(String)
    /// Retries ran out of time. For an append the outcome is unknown, but retrying it through the
    /// same client can never apply it twice.
    case deadlineExceeded(operation: String, after: Duration, lastError: String)
    /// The coordinator answered with a message this operation does not expect.
    case unexpectedAnswer(operation: String, answer: MessageTypeName)
    /// No coordinator addresses were configured.
    case noCoordinators

    public var description: String {
        switch self {
        case .rejected(let reply): return "the cluster refused: \(reply.text) (\(reply.code))"
        case .truncated(let restart): return "the positions asked for were truncated; restart from position \(restart)"
        case .recoveryInProgress(let text):
            return "the cluster refuses writes while a recovery is staged: \(text) (recoveryInProgress; not retried)"
        case .deadlineExceeded(let operation, let after, let lastError):
            return "\(operation) did not complete within \(after); last error: \(lastError)"
        case .unexpectedAnswer(let operation, let answer):
            return "\(operation) got an unexpected \(answer.name) answer"
        case .noCoordinators: return "no coordinator addresses given: pass --coordinator HOST:PORT"
        }
    }
}

/// The name of a message type, carried in errors without carrying the message.
public struct MessageTypeName: Sendable, Hashable {
    public var name: String
}
