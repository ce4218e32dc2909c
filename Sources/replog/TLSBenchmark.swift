import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import ReplogModel
import ReplogNet
import ReplogNetTLS
import ReplogTLS
import ReplogWire

/// `replog bench tls`: the cost of mutual TLS on loopback: RPC latency and throughput over one
/// TLS connection, raw TLS stream throughput, and handshakes per second.
struct TLSBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls",
        abstract: "Measure RPC latency/throughput over mutual TLS, raw TLS stream throughput and handshakes/s."
    )

    @Option(help: "Seconds to spend on each measurement.")
    var seconds: Double = 3

    @Option(help: "Requests in flight for the throughput measurement.")
    var inFlight = 64

    @Option(name: .customLong("stream-mib"), help: "MiB sent for the raw stream measurement.")
    var streamMiB = 2048

    @Option(help: "TLS 1.3 cipher suites to offer, in OpenSSL's syntax (default: OpenSSL's).")
    var ciphersuites: String?

    func validate() throws {
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        guard inFlight > 0 else { throw ValidationError("--in-flight must be positive") }
        guard streamMiB > 0 else { throw ValidationError("--stream-mib must be positive") }
    }

    func run() async throws {
        let root = NSTemporaryDirectory() + "replog-bench-tls-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let directory = CertificateDirectory(path: root)
        let now = UTCTime.now()
        try directory.createCertificateAuthority(now: now)
        try directory.createCertificate(role: .replica, id: "bench-server", hosts: ["127.0.0.1"], now: now)
        try directory.createCertificate(role: .coordinator, id: "bench-client", hosts: ["127.0.0.1"], now: now)
        var serverConfiguration = TLSConfiguration(directory: directory, role: .replica, id: "bench-server")
        var clientConfiguration = TLSConfiguration(directory: directory, role: .coordinator, id: "bench-client")
        serverConfiguration.tls13CipherSuites = ciphersuites
        clientConfiguration.tls13CipherSuites = ciphersuites
        let serverTLS = try TLSContextProvider(configuration: serverConfiguration)
        let clientTLS = try TLSContextProvider(configuration: clientConfiguration)
        let budget = Duration.milliseconds(Int64(seconds * 1000))
        print("replog TLS benchmark (mutual TLS 1.3, P-256 certificates, loopback, \(seconds) s per measurement)")
        try await rpc(serverTLS: serverTLS, clientTLS: clientTLS, budget: budget)
        try await stream(serverTLS: serverTLS, clientTLS: clientTLS)
        try await handshakes(serverTLS: serverTLS, clientTLS: clientTLS, budget: budget)
    }

    // MARK: RPC over TLS

    private func rpc(serverTLS: TLSContextProvider, clientTLS: TLSContextProvider, budget: Duration) async throws {
        try await RPCMeasurement.run(
            server: .mutualTLS(serverTLS),
            client: .mutualTLS(clientTLS),
            budget: budget,
            inFlight: inFlight,
            label: "RPC"
        )
    }

    // MARK: Raw TLS stream

    private func stream(serverTLS: TLSContextProvider, clientTLS: TLSContextProvider) async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let total = streamMiB << 20
        let received = group.next().makePromise(of: Void.self)
        let server = try await ServerBootstrap(group: group)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(provider: serverTLS, mode: .server),
                        CountingSink(expected: total, done: received),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let started = group.next().makePromise(of: (ContinuousClock.Instant, String).self)
        let client = try await ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(provider: clientTLS, mode: .client(host: "127.0.0.1")),
                        StreamWriter(total: total, started: started),
                    ])
                }
            }
            .connect(host: "127.0.0.1", port: server.localAddress!.port!)
            .get()
        let cpuBefore = Self.processCPUSeconds()
        let (start, suite) = try await started.futureResult.get()
        try await received.futureResult.get()
        let elapsed = Self.seconds(ContinuousClock.now - start)
        let cpu = Self.processCPUSeconds() - cpuBefore
        print(
            "raw TLS stream, 1 MiB writes:    \(Int(Double(total) / elapsed / 1e6)) MB/s (\(streamMiB) MiB, \(suite))"
        )
        // CPU time does not depend on what else runs on the machine, unlike the rate above.
        let cpuPerGB = cpu / (Double(total) / 1e9)
        print(
            "raw TLS stream CPU, both ends:   \(String(format: "%.2f", cpuPerGB)) CPU-seconds per GB"
                + " (\(String(format: "%.2f", cpu / elapsed)) cores busy on average)"
        )
        try await client.close()
        try await server.close()
    }

    // MARK: Handshakes

    private func handshakes(serverTLS: TLSContextProvider, clientTLS: TLSContextProvider, budget: Duration)
        async throws
    {
        let group = MultiThreadedEventLoopGroup.singleton
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TLSHandler(provider: serverTLS, mode: .server))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let clock = ContinuousClock()
        let start = clock.now
        var count = 0
        while clock.now - start < budget {
            let done = group.next().makePromise(of: Void.self)
            let channel = try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers([
                            TLSHandler(provider: clientTLS, mode: .client(host: "127.0.0.1")),
                            HandshakeWaiter(done: done),
                        ])
                    }
                }
                .connect(host: "127.0.0.1", port: server.localAddress!.port!)
                .get()
            try await done.futureResult.get()
            try await channel.close()
            count += 1
        }
        print("mutual TLS handshakes, 1 at a time: \(Int(Double(count) / Self.seconds(clock.now - start)))/s")
        try await server.close()
    }

    /// User plus system CPU time of this process so far.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

}

/// Counts plaintext bytes and completes `done` when `expected` arrived.
private final class CountingSink: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let expected: Int
    private let done: EventLoopPromise<Void>
    private var count = 0

    init(expected: Int, done: EventLoopPromise<Void>) {
        self.expected = expected
        self.done = done
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        count += unwrapInboundIn(data).readableBytes
        if count >= expected { done.succeed() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { done.fail(error) }
}

/// Writes `total` bytes in 1 MiB writes once the handshake is done, as fast as writability allows.
private final class StreamWriter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let total: Int
    private let started: EventLoopPromise<(ContinuousClock.Instant, String)>
    private var sent = 0
    private var chunk = ByteBuffer(repeating: 0x5A, count: 1 << 20)
    private var running = false

    init(total: Int, started: EventLoopPromise<(ContinuousClock.Instant, String)>) {
        self.total = total
        self.started = started
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let handshake = event as? TLSHandshakeCompleted else { return }
        running = true
        started.succeed((.now, handshake.cipherSuite))
        pump(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if running { pump(context: context) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { started.fail(error) }

    private func pump(context: ChannelHandlerContext) {
        while sent < total && context.channel.isWritable {
            context.write(wrapOutboundOut(chunk), promise: nil)
            sent += chunk.readableBytes
        }
        context.flush()
    }
}

/// Completes `done` at the handshake (or with its error).
private final class HandshakeWaiter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let done: EventLoopPromise<Void>

    init(done: EventLoopPromise<Void>) { self.done = done }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is TLSHandshakeCompleted { done.succeed() }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { done.fail(error) }

    func channelInactive(context: ChannelHandlerContext) { done.fail(ChannelError.ioOnClosedChannel) }
}
