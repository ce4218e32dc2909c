import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ReplogModel
import ReplogNet
import ReplogWire

enum Net {
    static let cluster = ClusterID(high: 0xC1, low: 0x05)
    static let replica = PeerIdentity(clusterID: cluster, role: .replica, nodeID: "r1")
    static let coordinator = PeerIdentity(clusterID: cluster, role: .coordinator, nodeID: "c1")
    static let logger = Logger(label: "net-test")

    /// A plaintext server on an ephemeral port of 127.0.0.1, served until `body` returns.
    static func withServer<T: Sendable>(
        allowedRoles: Set<NodeRole> = [.coordinator, .replica],
        options: ConnectionOptions = ConnectionOptions(),
        handler: @escaping RPCServer.Handler,
        _ body: @Sendable (RPCServer, Int) async throws -> T
    ) async throws -> T {
        let server = try await RPCServer.bind(
            host: "127.0.0.1",
            port: 0,
            identity: replica,
            allowedRoles: allowedRoles,
            security: .plaintext,
            options: options,
            logger: logger,
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

/// A raw TCP client that writes arbitrary bytes and reads frames, to play a misbehaving peer.
final class RawClient {
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var pending = ByteBuffer()

    private init(
        iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) {
        self.iterator = iterator
        self.outbound = outbound
    }

    /// Connects to 127.0.0.1:`port`, runs `body`, and closes the connection.
    static func with(port: Int, _ body: (RawClient) async throws -> Void) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        try await channel.executeThenClose { inbound, outbound in
            try await body(RawClient(iterator: inbound.makeAsyncIterator(), outbound: outbound))
        }
    }

    func write(_ bytes: ByteBuffer) async throws {
        try await outbound.write(bytes)
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
            guard var chunk = try await iterator.next() else { return nil }
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
