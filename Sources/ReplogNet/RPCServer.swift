public import Logging
import NIOConcurrencyHelpers
public import NIOCore
public import NIOPosix
public import ReplogModel
public import ReplogWire

/// A listening endpoint of a replog process: accepts connections, runs the hello, and answers
/// requests with `handler` (appends with `appendHandler`, when given).
public final class RPCServer: Sendable {
    /// Answers one request from `peer`; `nil` sends nothing (for one-way messages).
    public typealias Handler = @Sendable (_ peer: ConnectedPeer, _ message: Message) async -> Message?
    /// Sends the answer to one request (`nil`: none); call it exactly once, from any thread.
    public typealias Responder = @Sendable (_ answer: Message?) -> Void
    /// Takes the appends read from one connection at once, each with its ``Responder``.
    ///
    /// The hot path of a coordinator: one task and one hop per burst of appends instead of a task,
    /// a continuation and a future per append. Appends are answered in any order.
    public typealias AppendHandler =
        @Sendable (_ peer: ConnectedPeer, _ appends: [(AppendRequest, Responder)]) async ->
        Void

    private let channel: any Channel
    private let children: NIOLockedValueBox<[ObjectIdentifier: any Channel]>
    /// The address it listens on (with the real port when 0 was asked for).
    public let localAddress: SocketAddress

    private init(channel: any Channel, children: NIOLockedValueBox<[ObjectIdentifier: any Channel]>) throws {
        self.channel = channel
        self.children = children
        guard let address = channel.localAddress else {
            throw IOError(errnoCode: 0, reason: "the server channel has no local address")
        }
        localAddress = address
    }

    /// Binds `host:port`. Fails with the system's reason (for example "address already in use").
    /// Peers whose role is not in `allowedRoles` are refused at the hello; `permissions` limits
    /// what the roles that may connect may send. Both refusals answer `roleNotAllowed`, close the
    /// connection and count in `replog_rpc_refusals_total{reason}`.
    public static func bind(
        host: String,
        port: Int,
        identity: PeerIdentity,
        allowedRoles: Set<NodeRole>,
        permissions: RolePermissions = .unrestricted,
        security: TransportSecurity,
        options: ConnectionOptions = ConnectionOptions(),
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        appendHandler: AppendHandler? = nil,
        handler: @escaping Handler
    ) async throws -> RPCServer {
        let negotiation = HelloNegotiation(
            local: identity,
            allowedRoles: allowedRoles,
            maxFrameSize: options.maxFrameSize
        )
        let children = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: options.writeBufferWaterMark)
            .childChannelInitializer { child in
                let key = ObjectIdentifier(child)
                children.withLockedValue { $0[key] = child }
                child.closeFuture.whenComplete { _ in _ = children.withLockedValue { $0.removeValue(forKey: key) } }
                return child.eventLoop.makeCompletedFuture {
                    try security.configure?(child, nil)
                    try child.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: options.keepAlive.interval),
                        ByteToMessageHandler(FrameDecoder(maxFrameSize: options.maxFrameSize)),
                        MessageToByteHandler(FrameEncoder()),
                        RPCServerHandler(
                            negotiation: negotiation,
                            permissions: permissions,
                            security: security,
                            options: options,
                            logger: logger,
                            appendHandler: appendHandler,
                            handler: handler
                        ),
                    ])
                }
            }
            .bind(host: host, port: port)
            .get()
        return try RPCServer(channel: channel, children: children)
    }

    /// Serves until the calling task is cancelled or ``close()`` is called.
    public func run() async throws {
        try await withTaskCancellationHandler {
            try await channel.closeFuture.get()
        } onCancel: {
            self.closeAll()
        }
    }

    /// Stops listening and closes every open connection.
    public func close() async {
        closeAll()
        try? await channel.closeFuture.get()
    }

    /// The number of open connections.
    public var connectionCount: Int { children.withLockedValue { $0.count } }

    private func closeAll() {
        channel.close(promise: nil)
        for child in children.withLockedValue({ Array($0.values) }) { child.close(promise: nil) }
    }
}
