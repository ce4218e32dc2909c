import Logging
public import NIOConcurrencyHelpers
public import NIOCore
public import ReplogModel
public import ReplogNet
public import ReplogWire

/// A single-process log that speaks the client half of the protocol, to exercise the client's
/// redirects, retries and de-duplication until the real coordinator process exists.
public final class InMemoryLogServer: Sendable {
    public struct State: Sendable {
        public var entries: [Position: ByteBuffer] = [:]
        public var begin: Position = 1
        public var end: Position = 0
        public var applied: [AppendToken: AppendResponse] = [:]
        public var redirectTo: String?
        /// Close the connection instead of answering the next N appends (after applying them).
        public var dropAnswers = 0
        public var appendRequests = 0
    }

    public let state = NIOLockedValueBox(State())
    let server: RPCServer
    let serving: Task<Void, any Error>
    public var endpoint: Endpoint { Endpoint(host: "127.0.0.1", port: server.localAddress.port!) }

    public static let cluster = ClusterID(high: 0xC11E, low: 0x7)

    /// `security` secures the connections (plaintext unless a test asks for TLS).
    public init(security: TransportSecurity = .plaintext) async throws {
        let state = self.state
        server = try await RPCServer.bind(
            host: "127.0.0.1",
            port: 0,
            identity: PeerIdentity(clusterID: Self.cluster, role: .coordinator, nodeID: "c-test"),
            allowedRoles: [.client],
            security: security,
            logger: Logger(label: "test-log-server")
        ) { _, message in Self.answer(message, state: state) }
        let server = self.server
        serving = Task { try await server.run() }
    }

    public func stop() async {
        await server.close()
        serving.cancel()
    }

    static func answer(_ message: Message, state: NIOLockedValueBox<State>) -> Message? {
        state.withLockedValue { s -> Message? in
            if let redirect = s.redirectTo {
                return .error(ErrorReply(code: .notLeader, hint: redirect, text: "not the leader"))
            }
            switch message {
            case .appendRequest(let request):
                s.appendRequests += 1
                if let earlier = s.applied[request.token] {
                    if s.dropAnswers > 0 {
                        s.dropAnswers -= 1
                        return nil
                    }
                    return .appendResponse(earlier)
                }
                if request.entries.contains(where: { $0.readableBytes > 1000 }) {
                    return .error(ErrorReply(code: .entryTooLarge, text: "entries are limited to 1000 bytes here"))
                }
                let first = s.end + 1
                for (offset, entry) in request.entries.enumerated() { s.entries[first + UInt64(offset)] = entry }
                s.end += UInt64(request.entries.count)
                let response = AppendResponse(position: first, count: UInt32(request.entries.count))
                s.applied[request.token] = response
                if s.dropAnswers > 0 {
                    s.dropAnswers -= 1
                    return nil  // applied, but the answer is "lost"
                }
                return .appendResponse(response)
            case .readRequest(let request):
                if request.from < s.begin {
                    return .error(ErrorReply(code: .truncated, value: s.begin, text: "truncated below \(s.begin)"))
                }
                var entries: [Entry] = []
                var next = request.from
                while next <= min(request.to, s.end), entries.count < Int(request.maxEntries) {
                    if let bytes = s.entries[next] { entries.append(Entry(position: next, bytes: bytes)) }
                    next += 1
                }
                return .readResponse(ReadResponse(entries: entries, next: next, end: s.end))
            case .truncateRequest(let request):
                s.begin = max(s.begin, request.to)
                s.end += 1
                return .truncateResponse(TruncateResponse(position: s.end))
            case .statusRequest:
                return .statusResponse(
                    StatusResponse(
                        clusterID: cluster,
                        leader: LeaderResponse(leaderID: "c-test", leaderAddress: "127.0.0.1:7100", proposal: 3),
                        replicas: [
                            ReplicaInfo(
                                id: "r1",
                                address: "127.0.0.1:7001",
                                reachable: true,
                                status: .voting,
                                begin: s.begin,
                                end: s.end
                            ),
                            ReplicaInfo(
                                id: "r2",
                                address: "127.0.0.1:7002",
                                reachable: false,
                                status: .empty,
                                begin: 0,
                                end: 0
                            ),
                        ]
                    )
                )
            case .positionsRequest:
                return .positionsResponse(PositionsResponse(begin: s.begin, end: s.end))
            default:
                return .error(ErrorReply(code: .invalidRequest, text: "unsupported"))
            }
        }
    }
}
