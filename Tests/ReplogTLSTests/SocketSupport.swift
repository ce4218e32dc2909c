import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ReplogModel
import ReplogTLS
import Testing

struct TimedOut: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// The future's value, or `TimedOut` after `seconds` (a test must fail, never hang).
func within<T: Sendable>(_ seconds: Int64, _ what: String, _ future: EventLoopFuture<T>) async throws -> T {
    let promise = future.eventLoop.makePromise(of: T.self)
    future.cascade(to: promise)
    let timer = future.eventLoop.scheduleTask(in: .seconds(seconds)) { promise.fail(TimedOut(what: what)) }
    defer { timer.cancel() }
    return try await promise.futureResult.get()
}

/// Echoes every byte back (the server side of the socket and interop tests).
final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.writeAndFlush(data, promise: nil)
    }
}

/// Reports the handshake, the first error and the arrival of `expected` bytes through promises.
final class Probe: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let handshake: EventLoopPromise<TLSHandshakeCompleted>
    let firstError: EventLoopPromise<TLSError>
    let data: EventLoopPromise<ByteBuffer>
    let expected: Int
    private var received = ByteBuffer()

    init(_ outcomes: ClientOutcomes) {
        handshake = outcomes.handshakePromise
        firstError = outcomes.errorPromise
        data = outcomes.dataPromise
        expected = outcomes.expected
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSHandshakeCompleted { handshake.succeed(event) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received.writeBuffer(&buffer)
        if received.readableBytes >= expected { self.data.succeed(received) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? TLSError { firstError.succeed(error) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshake.fail(TLSError.closedDuringHandshake)
        data.fail(TLSError.uncleanShutdown)
        firstError.fail(TimedOut(what: "an error (the channel closed without one)"))
    }
}

/// A TLS echo server on 127.0.0.1 that records the TLS errors of its connections.
final class EchoServer: Sendable {
    let channel: any Channel
    let errors = NIOLockedValueBox<[TLSError]>([])
    let handshakes = NIOLockedValueBox<[TLSHandshakeCompleted]>([])

    var port: Int { channel.localAddress!.port! }

    init(group: any EventLoopGroup, provider: TLSContextProvider) async throws {
        let errors = self.errors
        let handshakes = self.handshakes
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        TLSHandler(provider: provider, mode: .server),
                        ServerRecorder(errors: errors, handshakes: handshakes),
                        EchoHandler(),
                    ])
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    func stop() async throws { try await channel.close() }

    /// Waits until the server recorded an error (errors arrive asynchronously after the client's).
    func waitForError(
        seconds: Double = 10,
        where matches: @escaping @Sendable (TLSError) -> Bool = { _ in true }
    ) async throws -> TLSError {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let error = errors.withLockedValue({ $0.first(where: matches) }) { return error }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TimedOut(what: "a server-side TLS error")
    }
}

final class ServerRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let errors: NIOLockedValueBox<[TLSError]>
    let handshakes: NIOLockedValueBox<[TLSHandshakeCompleted]>

    init(errors: NIOLockedValueBox<[TLSError]>, handshakes: NIOLockedValueBox<[TLSHandshakeCompleted]>) {
        self.errors = errors
        self.handshakes = handshakes
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSHandshakeCompleted { handshakes.withLockedValue { $0.append(event) } }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? TLSError { errors.withLockedValue { $0.append(error) } }
    }
}

/// What a client connection reports: the handshake, its first TLS error, the data it expects.
struct ClientOutcomes: Sendable {
    let handshakePromise: EventLoopPromise<TLSHandshakeCompleted>
    let errorPromise: EventLoopPromise<TLSError>
    let dataPromise: EventLoopPromise<ByteBuffer>
    let expected: Int

    init(eventLoop: any EventLoop, expected: Int) {
        handshakePromise = eventLoop.makePromise()
        errorPromise = eventLoop.makePromise()
        dataPromise = eventLoop.makePromise()
        self.expected = expected
    }

    var handshake: EventLoopFuture<TLSHandshakeCompleted> { handshakePromise.futureResult }
    var error: EventLoopFuture<TLSError> { errorPromise.futureResult }
    var data: EventLoopFuture<ByteBuffer> { dataPromise.futureResult }
}

/// A TLS client connection to 127.0.0.1:`port` expecting `expected` bytes back.
func connectClient(
    group: any EventLoopGroup,
    port: Int,
    provider: TLSContextProvider,
    host: String = "127.0.0.1",
    expected: Int
) async throws -> (channel: any Channel, outcomes: ClientOutcomes) {
    let eventLoop = group.next()
    let outcomes = ClientOutcomes(eventLoop: eventLoop, expected: expected)
    let connecting = ClientBootstrap(group: eventLoop)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandlers([
                    TLSHandler(provider: provider, mode: .client(host: host)),
                    Probe(outcomes),
                ])
            }
        }
        .connect(host: "127.0.0.1", port: port)
    do {
        return (try await connecting.get(), outcomes)
    } catch {
        outcomes.handshakePromise.fail(error)
        outcomes.errorPromise.fail(error)
        outcomes.dataPromise.fail(error)
        throw error
    }
}

/// A child process whose output is collected; `stop()` terminates it (tests call it in `defer`).
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    let stdin = Pipe()
    private let stdout = Pipe()
    private let output = NIOLockedValueBox("")

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stdout
        let output = self.output
        stdout.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { output.withLockedValue { $0 += String(decoding: data, as: UTF8.self) } }
        }
        try process.run()
    }

    var text: String { output.withLockedValue { $0 } }

    func send(_ text: String) { stdin.fileHandleForWriting.write(Data(text.utf8)) }

    /// Waits until the output contains `needle`.
    func waitFor(_ needle: String, seconds: Double = 10) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !text.contains(needle) {
            guard Date() < deadline else { throw TimedOut(what: "\"\(needle)\" from openssl; output: \(text)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits for the process to exit on its own.
    func waitForExit(seconds: Double = 10) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            guard Date() < deadline else { throw TimedOut(what: "openssl to exit; output: \(text)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Kills the process. SIGKILL rather than SIGTERM: a child of the test runner may inherit a
    /// signal mask that blocks SIGTERM, and then `terminate()` would leave it running.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        stdout.fileHandleForReading.readabilityHandler = nil
    }
}

/// A port that was free a moment ago (for openssl s_server, which needs one on its command line).
func freePort(group: any EventLoopGroup) async throws -> Int {
    let channel = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress!.port!
    try await channel.close()
    return port
}
