public import NIOCore
public import NIOPosix
import ReplogModel
public import ReplogWire

/// One client connection to a replog process: handshaken, with many requests in flight.
public final class RPCConnection: Sendable {
    /// The peer as its hello-ack described it.
    public let peer: ConnectedPeer
    let channel: any Channel
    let options: ConnectionOptions

    init(peer: ConnectedPeer, channel: any Channel, options: ConnectionOptions) {
        self.peer = peer
        self.channel = channel
        self.options = options
    }

    /// Connects to `host:port`, sends the hello and waits for the hello-ack.
    ///
    /// Throws ``RPCError/refused(_:peer:)`` with the peer's reason when it refuses us (another
    /// cluster, a protocol version it does not speak, a role it does not serve).
    public static func connect(
        host: String,
        port: Int,
        identity: PeerIdentity,
        security: TransportSecurity,
        options: ConnectionOptions = ConnectionOptions(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> RPCConnection {
        let eventLoop = group.next()
        let handshake = eventLoop.makePromise(of: HelloAck.self)
        let hello = identity.hello(maxFrameSize: options.maxFrameSize)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(options.connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: options.writeBufferWaterMark)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try security.configure?(channel, host)
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: options.keepAlive.interval),
                        ByteToMessageHandler(FrameDecoder(maxFrameSize: options.maxFrameSize)),
                        MessageToByteHandler(FrameEncoder()),
                        RPCClientHandler(
                            hello: hello,
                            handshake: handshake,
                            handshakeTimeout: options.handshakeTimeout,
                            maxInFlight: options.maxInFlight,
                            keepAlive: options.keepAlive
                        ),
                    ])
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch {
            // The handler that owns the handshake promise never became active.
            handshake.fail(error)
            throw error
        }
        let ack: HelloAck
        do {
            ack = try await handshake.futureResult.get()
        } catch {
            try? await channel.close()
            throw error
        }
        let peer = ConnectedPeer(
            identity: PeerIdentity(clusterID: ack.clusterID, role: ack.role, nodeID: ack.nodeID),
            version: ack.version,
            maxFrameSize: ack.maxFrameSize,
            address: "\(host):\(port)"
        )
        return RPCConnection(peer: peer, channel: channel, options: options)
    }

    /// Sends `message` and waits for its answer. An ``ErrorReply`` answer is thrown.
    public func request(_ message: Message, timeout: TimeAmount? = nil) async throws -> Message {
        let promise = channel.eventLoop.makePromise(of: Message.self)
        let outbound = OutboundRequest(message: message, timeout: timeout ?? options.requestTimeout, promise: promise)
        channel.writeAndFlush(outbound).whenFailure { error in promise.fail(error) }
        return try await promise.futureResult.get()
    }

    /// Sends a one-way message (``Message/learned(_:)``, ``Message/learnedRange(_:)``).
    public func send(_ message: Message) async throws {
        try await channel.writeAndFlush(
            OutboundRequest(message: message, timeout: options.requestTimeout, promise: nil)
        )
    }

    public var isActive: Bool { channel.isActive }

    /// Completes when the connection has closed, for whatever reason.
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    public func close() async {
        try? await channel.close()
    }
}
