import CoreMetrics
public import NIOCore

/// Fired as a user inbound event once the handshake succeeded and the peer was accepted.
public struct TLSHandshakeCompleted: Sendable, Hashable {
    /// Who the peer is, from its verified certificate.
    public var peer: CertificateIdentity
    /// The negotiated protocol, for example `TLSv1.3`.
    public var protocolVersion: String
    /// The negotiated cipher suite.
    public var cipherSuite: String
}

/// TLS for one channel, on the system OpenSSL over memory BIOs.
///
/// Put it first in the pipeline: handlers after it read and write plaintext `ByteBuffer`s. Writes
/// made before the handshake ends are held back and sent after it. The peer's identity is fired as
/// ``TLSHandshakeCompleted`` and kept in ``peer``. `close()` sends close_notify and waits for the
/// peer's (at most `shutdownTimeout`); a peer that cuts the connection without close_notify is
/// reported as ``TLSError/uncleanShutdown``. Errors are fired down the pipeline and close the channel.
public final class TLSHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// Which end of the connection we are.
    public enum Mode: Sendable, Hashable {
        /// We accepted the connection.
        case server
        /// We dialled `host` (a DNS name or an IP address), which the peer's certificate must name.
        case client(host: String)
    }

    private var machine: TLSHandlerStateMachine
    private let provider: TLSContextProvider
    private let mode: Mode
    private var connection: TLSConnection?
    private var shutdownTimer: Scheduled<Void>?
    /// After a failure: the output is shut down and the full close waits for the peer to close
    /// (or for `lingerTimeout`); closes asked for meanwhile complete with it.
    private var linger: (timer: Scheduled<Void>, promises: [EventLoopPromise<Void>])?

    /// How long a failed connection waits for the peer to close after our alert.
    static let lingerTimeout: TimeAmount = .seconds(2)

    /// Plaintext written since the last flush, encrypted at the flush as one run of records.
    ///
    /// Many small frames written in one event-loop tick (the answers to a batch of appends) would
    /// otherwise each pay for a record: its header, tag and cipher set-up, a buffer and an element
    /// in the channel's write queue.
    private var unencrypted: ByteBuffer?
    private var unencryptedPromises: [EventLoopPromise<Void>] = []
    /// Writes this large are encrypted at once rather than copied into ``unencrypted``.
    static let coalescingLimit = 16_384

    /// The accepted peer, once the handshake completed.
    public private(set) var peer: CertificateIdentity?

    public init(provider: TLSContextProvider, mode: Mode) {
        self.provider = provider
        self.mode = mode
        if case .server = mode {
            machine = TLSHandlerStateMachine(isServer: true)
        } else {
            machine = TLSHandlerStateMachine(isServer: false)
        }
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard case .startHandshake = machine.channelActive() else { return }
        do {
            let serverName: String? =
                switch mode {
                case .server: nil
                case .client(let host): host
                }
            // The context is taken per connection, so a reload affects new connections only.
            connection = try TLSConnection(
                context: provider.current,
                serverName: serverName,
                allocator: context.channel.allocator
            )
        } catch {
            fail(context: context, error as? TLSError ?? .handshakeFailed(openSSL: []))
            return
        }
        continueHandshake(context: context)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        switch machine.bytesReceived(firstByte: buffer.getInteger(at: buffer.readerIndex, as: UInt8.self)) {
        case .continueHandshake:
            connection?.feed(buffer)
            continueHandshake(context: context)
        case .readApplicationData:
            connection?.feed(buffer)
            readApplicationData(context: context)
        case .rejectPlaintext(let error):
            fireAndClose(context: context, error: error, writes: [], closePromise: nil)
        case .discard:
            break
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        switch machine.write(buffer, promise: promise) {
        case .write:
            guard buffer.readableBytes < Self.coalescingLimit else {
                encryptCoalesced(context: context)
                encrypt(context: context, buffer, promise: promise)
                return
            }
            if unencrypted == nil {
                unencrypted = buffer
            } else {
                unencrypted!.writeImmutableBuffer(buffer)
            }
            if let promise { unencryptedPromises.append(promise) }
            if unencrypted!.readableBytes >= Self.coalescingLimit { encryptCoalesced(context: context) }
        case .buffered:
            break
        case .fail(let error):
            promise?.fail(error)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        encryptCoalesced(context: context)
        if machine.flush() { context.flush() }
    }

    /// Encrypts what ``unencrypted`` holds, completing its writes' promises with the records' write.
    private func encryptCoalesced(context: ChannelHandlerContext) {
        guard let buffer = unencrypted else { return }
        unencrypted = nil
        let promises = unencryptedPromises
        unencryptedPromises = []
        var promise: EventLoopPromise<Void>?
        if promises.count == 1 {
            promise = promises[0]
        } else if !promises.isEmpty {
            let combined = context.eventLoop.makePromise(of: Void.self)
            combined.futureResult.whenComplete { result in
                for promise in promises { promise.completeWith(result) }
            }
            promise = combined
        }
        encrypt(context: context, buffer, promise: promise)
    }

    /// Fails the writes still waiting in ``unencrypted`` (the connection failed or closed).
    private func dropCoalesced(_ error: any Error) {
        unencrypted = nil
        let promises = unencryptedPromises
        unencryptedPromises = []
        for promise in promises { promise.fail(error) }
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if linger != nil && mode == .all {
            if let promise { linger?.promises.append(promise) }
            return
        }
        guard mode == .all else {
            context.close(mode: mode, promise: promise)
            return
        }
        switch machine.closeRequested(promise: promise) {
        case .sendCloseNotify:
            // What was written before the close goes out before the close_notify.
            encryptCoalesced(context: context)
            if case .failed(let error) = connection?.shutdown() {
                // Completes `promise` (kept by the state machine) with the close.
                fail(context: context, error)
                return
            }
            sendPending(context: context, flush: true)
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            shutdownTimer = context.eventLoop.scheduleTask(in: provider.configuration.shutdownTimeout) {
                let (handler, context) = loopBound.value
                if case .forceClose(let promise) = handler.machine.shutdownTimedOut() {
                    handler.report(.shutdownTimedOut, context: context)
                    context.close(promise: promise)
                }
            }
        case .closeNow(let writes):
            for write in writes { write.promise?.fail(TLSError.writeAfterClose) }
            context.close(mode: mode, promise: promise)
        case .alreadyClosing:
            break
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        shutdownTimer?.cancel()
        dropCoalesced(TLSError.writeAfterClose)
        if let linger {
            self.linger = nil
            linger.timer.cancel()
            for promise in linger.promises { promise.succeed() }
        }
        switch machine.channelInactive() {
        case .fire(let error, let writes, let promise):
            for write in writes { write.promise?.fail(error) }
            promise?.succeed()
            report(error, context: context)
        case .completeClose(let promise):
            promise?.succeed()
        case .none:
            break
        }
        context.fireChannelInactive()
    }

    // MARK: Driving OpenSSL

    private func continueHandshake(context: ChannelHandlerContext) {
        guard let connection else { return }
        let outcome = connection.handshake()
        switch outcome {
        case .wantMoreData:
            sendPending(context: context, flush: true)
        case .failed(let error):
            fail(context: context, error)
        case .complete:
            // The client's Finished (and, on the server, nothing or tickets) must leave now.
            sendPending(context: context, flush: true)
            let identity: CertificateIdentity
            switch acceptPeer(connection) {
            case .success(let accepted): identity = accepted
            case .failure(let error):
                fail(context: context, error)
                return
            }
            peer = identity
            guard case .activate(let writes, let flush) = machine.handshakeCompleted() else { return }
            // Held-back writes go first: a handler reacting to the event below writes after them.
            for write in writes { encrypt(context: context, write.data, promise: write.promise) }
            if flush || !writes.isEmpty { context.flush() }
            context.fireUserInboundEventTriggered(
                TLSHandshakeCompleted(
                    peer: identity,
                    protocolVersion: connection.protocolVersion,
                    cipherSuite: connection.cipherSuite
                )
            )
            // Application data may have come in the same read as the handshake's last message.
            readApplicationData(context: context)
        }
    }

    private func acceptPeer(_ connection: TLSConnection) -> Result<CertificateIdentity, TLSError> {
        guard let certificate = connection.peerCertificate else {
            return .failure(.peerCertificateMissing(openSSL: []))
        }
        guard let identity = certificate.peerIdentity else {
            return .failure(.peerRoleMissing(subject: certificate.subject))
        }
        let allowed = provider.configuration.allowedPeerRoles
        guard allowed.contains(identity.role) else {
            return .failure(.peerRoleNotAllowed(identity, allowed: allowed))
        }
        return .success(identity)
    }

    private func readApplicationData(context: ChannelHandlerContext) {
        guard let connection else { return }
        let outcome = connection.readApplicationData(allocator: context.channel.allocator) { buffer in
            // Data after our close_notify is still the peer's data, so it is delivered.
            context.fireChannelRead(wrapInboundOut(buffer))
        }
        switch outcome {
        case .wantMoreData:
            sendPending(context: context, flush: true)
        case .closeNotify:
            switch machine.closeNotifyReceived() {
            case .replyAndClose:
                _ = connection.shutdown()
                sendPending(context: context, flush: true)
                context.close(promise: nil)
            case .close(let promise):
                shutdownTimer?.cancel()
                _ = connection.shutdown()
                sendPending(context: context, flush: true)
                context.close(promise: promise)
            case .none:
                break
            }
        case .failed(let error):
            fail(context: context, error)
        }
    }

    private func encrypt(context: ChannelHandlerContext, _ buffer: ByteBuffer, promise: EventLoopPromise<Void>?) {
        guard let connection else {
            promise?.fail(TLSError.writeAfterClose)
            return
        }
        if let error = connection.write(buffer) {
            promise?.fail(error)
            fail(context: context, error)
            return
        }
        if let records = connection.drainOutbound(allocator: context.channel.allocator) {
            context.write(wrapOutboundOut(records), promise: promise)
        } else {
            promise?.succeed()
        }
    }

    private func sendPending(context: ChannelHandlerContext, flush: Bool) {
        guard let records = connection?.drainOutbound(allocator: context.channel.allocator) else {
            return
        }
        context.write(wrapOutboundOut(records), promise: nil)
        if flush { context.flush() }
    }

    private func fail(context: ChannelHandlerContext, _ error: TLSError) {
        guard case .failAndClose(let error, let writes, let closePromise) = machine.failed(error) else { return }
        // OpenSSL may have queued an alert telling the peer why; send it before closing.
        sendPending(context: context, flush: true)
        fireAndClose(context: context, error: error, writes: writes, closePromise: closePromise)
    }

    private func fireAndClose(
        context: ChannelHandlerContext,
        error: TLSError,
        writes: [TLSHandlerStateMachine.PendingWrite],
        closePromise: EventLoopPromise<Void>?
    ) {
        shutdownTimer?.cancel()
        for write in writes { write.promise?.fail(error) }
        dropCoalesced(error)
        guard context.channel.isActive, linger == nil else {
            report(error, context: context)
            context.close(promise: closePromise)
            return
        }
        // Shut down our output and close once the peer has closed too: closing at once while bytes
        // of the peer sit unread makes the kernel answer with a reset, which can destroy the alert
        // telling the peer why (the reason it would print) before the peer reads it.
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let timer = context.eventLoop.scheduleTask(in: Self.lingerTimeout) {
            let (handler, context) = loopBound.value
            handler.endLinger(context: context)
        }
        linger = (timer, closePromise.map { [$0] } ?? [])
        report(error, context: context)
        let halfClosed = context.eventLoop.makePromise(of: Void.self)
        halfClosed.futureResult.whenFailure { _ in
            // No half-close on this channel (an embedded one, or already closed): close now.
            let (handler, context) = loopBound.value
            handler.endLinger(context: context)
        }
        context.close(mode: .output, promise: halfClosed)
    }

    /// Closes a connection that lingered after a failure, completing every close asked for meanwhile.
    private func endLinger(context: ChannelHandlerContext) {
        guard let linger else { return }
        self.linger = nil
        linger.timer.cancel()
        let closed = context.eventLoop.makePromise(of: Void.self)
        closed.futureResult.whenComplete { result in
            for promise in linger.promises { promise.completeWith(result) }
        }
        context.close(promise: closed)
    }

    /// Counts the error in `replog_tls_errors_total{reason}` and passes it down the pipeline.
    private func report(_ error: TLSError, context: ChannelHandlerContext) {
        let dimensions = [("reason", error.reason)]
        if let factory = provider.configuration.metricsFactory {
            Counter(label: "replog_tls_errors_total", dimensions: dimensions, factory: factory).increment()
        } else {
            Counter(label: "replog_tls_errors_total", dimensions: dimensions).increment()
        }
        context.fireErrorCaught(error)
    }
}

@available(*, unavailable)
extension TLSHandler: Sendable {}
