import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ReplogModel
import ReplogNet
import ReplogWire

#if canImport(Glibc)
    import Glibc
#endif

enum Net {
    static let cluster = ClusterID(high: 0xC1, low: 0x05)
    static let replica = PeerIdentity(clusterID: cluster, role: .replica, nodeID: "r1")
    static let coordinator = PeerIdentity(clusterID: cluster, role: .coordinator, nodeID: "c1")
    static let logger = Logger(label: "net-test")

    /// A plaintext server on an ephemeral port of 127.0.0.1, served until `body` returns.
    static func withServer<T: Sendable>(
        allowedRoles: Set<NodeRole> = [.coordinator, .replica],
        options: ConnectionOptions = ConnectionOptions(),
        appendHandler: RPCServer.AppendHandler? = nil,
        handler: @escaping RPCServer.Handler,
        _ body: @Sendable (RPCServer, Int) async throws -> T
    ) async throws -> T {
        // A busy test machine can hold a test's next step back for seconds; the handshake
        // timeout is not what these tests are about.
        var options = options
        options.handshakeTimeout = .seconds(60)
        let server = try await RPCServer.bind(
            host: "127.0.0.1",
            port: 0,
            identity: replica,
            allowedRoles: allowedRoles,
            security: .plaintext,
            options: options,
            logger: logger,
            appendHandler: appendHandler,
            handler: handler
        )
        let port = server.localAddress.port!
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await server.run()
                return nil
            }
            do {
                let result = try await body(server, port)
                await server.close()
                group.cancelAll()
                return result
            } catch {
                await server.close()
                group.cancelAll()
                throw error
            }
        }
    }

    static func connect(
        port: Int,
        identity: PeerIdentity = coordinator,
        options: ConnectionOptions = ConnectionOptions()
    ) async throws -> RPCConnection {
        try await RPCConnection.connect(
            host: "127.0.0.1",
            port: port,
            identity: identity,
            security: .plaintext,
            options: options
        )
    }
}

/// Hands the bytes a raw connection receives to an async stream, which ends when it closes.
final class ByteCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let continuation: AsyncStream<ByteBuffer>.Continuation

    init(continuation: AsyncStream<ByteBuffer>.Continuation) {
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A raw TCP client that writes arbitrary bytes and reads frames, to play a misbehaving peer.
final class RawClient {
    private let channel: any Channel
    private var iterator: AsyncStream<ByteBuffer>.AsyncIterator
    private var pending = ByteBuffer()

    private init(channel: any Channel, chunks: AsyncStream<ByteBuffer>) {
        self.channel = channel
        self.iterator = chunks.makeAsyncIterator()
    }

    /// Connects to 127.0.0.1:`port`, runs `body`, and closes the connection.
    static func with(port: Int, _ body: (RawClient) async throws -> Void) async throws {
        let (chunks, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteCollector(continuation: continuation))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        let client = RawClient(channel: channel, chunks: chunks)
        do {
            try await body(client)
        } catch {
            try? await channel.close()
            throw error
        }
        try? await channel.close()
    }

    func write(_ bytes: ByteBuffer) async throws {
        try await channel.writeAndFlush(bytes)
    }

    func write(_ envelope: Envelope) async throws {
        var buffer = ByteBuffer()
        buffer.writeEnvelope(envelope)
        try await write(buffer)
    }

    /// The next frame from the server as an envelope, or nil when the server closed.
    func readEnvelope() async throws -> Envelope? {
        while true {
            if let frame = try FrameDecoder.decodeFrame(from: &pending) {
                return Envelope(
                    requestID: frame.header.requestID,
                    flags: frame.header.flags,
                    message: try Message(frame: frame)
                )
            }
            guard var chunk = await iterator.next() else { return nil }
            pending.writeBuffer(&chunk)
        }
    }

    /// Sends a good hello and reads the hello-ack.
    func handshake(identity: PeerIdentity = Net.coordinator) async throws {
        try await write(.request(.hello(identity.hello()), id: 0))
        guard case .helloAck = try await readEnvelope()?.message else {
            throw RPCError.handshakeViolation(peer: "test", detail: "no ack")
        }
    }
}
