public import Logging
public import NIOCore
import NIOHTTP1
public import NIOPosix
public import Prometheus

/// The admin HTTP endpoint of a replica or coordinator (`--admin HOST:PORT`): `/health`,
/// `/ready`, `/status` and `/metrics` (Prometheus text format).
///
/// It is bound by ``bind(host:port:registry:logger:group:report:)`` so that the actual port is
/// known before ``run()`` starts serving; `run()` serves until its task is cancelled.
public final class AdminServer: Sendable {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    private let channel: NIOAsyncChannel<Connection, Never>
    private let registry: PrometheusCollectorRegistry
    private let report: @Sendable () async -> AdminReport
    private let logger: Logger

    /// The address the endpoint listens on (with the real port when 0 was asked for).
    public let localAddress: SocketAddress

    private init(
        channel: NIOAsyncChannel<Connection, Never>,
        registry: PrometheusCollectorRegistry,
        logger: Logger,
        report: @escaping @Sendable () async -> AdminReport
    ) throws {
        self.channel = channel
        self.registry = registry
        self.logger = logger
        self.report = report
        guard let address = channel.channel.localAddress else {
            throw IOError(errnoCode: 0, reason: "the admin endpoint has no local address")
        }
        self.localAddress = address
    }

    /// Binds the endpoint. Fails with the system's reason (for example "address already in use").
    public static func bind(
        host: String,
        port: Int,
        registry: PrometheusCollectorRegistry,
        logger: Logger,
        group: MultiThreadedEventLoopGroup = .singleton,
        report: @escaping @Sendable () async -> AdminReport
    ) async throws -> AdminServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try Connection(wrappingChannelSynchronously: child)
                }
            }
        return try AdminServer(channel: channel, registry: registry, logger: logger, report: report)
    }

    /// Serves connections until the calling task is cancelled, then closes the listening socket.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await channel.executeThenClose { inbound in
                for try await connection in inbound {
                    group.addTask { await self.serve(connection) }
                }
            }
        }
    }

    private func serve(_ connection: Connection) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var method = HTTPMethod.GET
                var uri = "/"
                var keepAlive = true
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        method = head.method
                        uri = head.uri
                        keepAlive = head.isKeepAlive
                    case .body:
                        continue
                    case .end:
                        let response = await AdminRoutes.respond(
                            method: method,
                            uri: uri,
                            report: report,
                            metrics: { self.registry.emitToBuffer() }
                        )
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: response.contentType)
                        headers.add(name: "Content-Length", value: String(response.body.count))
                        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
                        try await outbound.write(
                            .head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))
                        )
                        if method != .HEAD {
                            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
                        }
                        try await outbound.write(.end(nil))
                        if !keepAlive { return }
                    }
                }
            }
        } catch {
            logger.debug("admin connection ended", metadata: ["admin/error": "\(error)"])
        }
    }
}
