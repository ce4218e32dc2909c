import Logging
import NIOCore
import ReplogModel
import ReplogWire

/// The server end of a connection: checks the hello, then hands each request to the process's
/// handler (many at once) and writes each answer with its request's id.
///
/// Back-pressure: at most `maxInFlight` requests of a connection are worked on at once; requests
/// that arrived in the same socket read beyond that wait in a queue, and reading stops while the
/// queue is not empty or the peer does not read our answers (the channel is unwritable).
final class RPCServerHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = Envelope
    typealias OutboundOut = Envelope

    private let negotiation: HelloNegotiation
    private let permissions: RolePermissions
    private let metrics: RPCMetrics
    private let security: TransportSecurity
    private let handler: RPCServer.Handler
    private let appendHandler: RPCServer.AppendHandler?
    /// Appends read since the last `channelReadComplete`, handed to `appendHandler` together.
    private var burst: [(request: AppendRequest, id: UInt64)] = []
    private let maxInFlight: Int
    private let keepAliveInterval: TimeAmount
    private let logger: Logger
    private let handshakeTimeout: TimeAmount
    private var handshakeTimer: Scheduled<Void>?
    private var peer: ConnectedPeer?
    private var address = "peer"
    private var inFlight = 0
    private var waiting = CircularBuffer<(message: Message, id: UInt64)>()
    private var readingPaused = false
    private var keepAlive = KeepAliveState()
    private var flushScheduled = false
    /// Set once a request was refused: nothing more from this peer is handled before the close.
    private var refused = false

    init(
        negotiation: HelloNegotiation,
        permissions: RolePermissions,
        security: TransportSecurity,
        options: ConnectionOptions,
        logger: Logger,
        appendHandler: RPCServer.AppendHandler? = nil,
        handler: @escaping RPCServer.Handler
    ) {
        self.negotiation = negotiation
        self.permissions = permissions
        self.metrics = RPCMetrics(factory: options.metricsFactory)
        self.security = security
        self.handler = handler
        self.appendHandler = appendHandler
        self.maxInFlight = options.maxInFlight
        self.keepAliveInterval = options.keepAlive.interval
        self.handshakeTimeout = options.handshakeTimeout
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        address = context.remoteAddress.map { "\($0)" } ?? "peer"
        let channel = context.channel
        let logger = self.logger
        let address = self.address
        handshakeTimer = context.eventLoop.scheduleTask(in: handshakeTimeout) {
            logger.warning("closing a connection that sent no hello in time", metadata: ["net/peer": "\(address)"])
            channel.close(promise: nil)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        let frame = unwrapInboundIn(data)
        keepAlive.received()
        let id = frame.header.requestID
        let message: Message
        do {
            message = try Message(frame: frame)
        } catch {
            logger.warning("malformed message", metadata: ["net/peer": "\(address)", "net/error": "\(error)"])
            if peer == nil {
                replyAndClose(.error(ErrorReply(error)), to: id, context: context)
            } else {
                reply(.error(ErrorReply(error)), to: id, context: context)
            }
            return
        }
        guard let peer else {
            handshake(message, id: id, context: context)
            return
        }
        if frame.header.flags.contains(.response) { return }  // a pong to our keep-alive ping
        guard permissions.permits(peer.identity.role, message.type) else {
            refuse(message.type, id: id, peer: peer, context: context)
            return
        }
        switch message {
        case .ping(let ping):
            reply(.pong(ping), to: id, context: context)
        case .hello:
            reply(
                .error(ErrorReply(code: .invalidRequest, text: "the handshake is already complete")),
                to: id,
                context: context
            )
        default:
            dispatch(message, id: id, peer: peer, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        handBurstOver(context: context)
        context.fireChannelReadComplete()
    }

    /// Hands the appends of this read to `appendHandler`, each with a responder bound to this
    /// connection.
    private func handBurstOver(context: ChannelHandlerContext) {
        guard !burst.isEmpty, let appendHandler, let peer else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        let appends = burst.map { request, id -> (AppendRequest, RPCServer.Responder) in
            let respond: RPCServer.Responder = { answer in
                let deliver: @Sendable () -> Void = {
                    let (this, context) = loopBound.value
                    this.answered(answer, id: id, peer: peer, context: context)
                }
                if eventLoop.inEventLoop { deliver() } else { eventLoop.execute(deliver) }
            }
            return (request, respond)
        }
        burst.removeAll(keepingCapacity: true)
        Task { await appendHandler(peer, appends) }
    }

    private func handshake(_ message: Message, id: UInt64, context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        guard case .hello(let hello) = message else {
            metrics.refused(.helloRequired)
            replyAndClose(
                .error(ErrorReply(code: .helloRequired, text: "the first frame must be Hello, not \(message.type)")),
                to: id,
                context: context
            )
            return
        }
        let answer: Result<HelloAck, ErrorReply>
        if let refusal = security.verifyHello?(hello, context.channel) {
            answer = .failure(refusal)
        } else {
            answer = negotiation.answer(hello)
        }
        switch answer {
        case .success(let ack):
            peer = ConnectedPeer(
                identity: PeerIdentity(clusterID: hello.clusterID, role: hello.role, nodeID: hello.nodeID),
                version: ack.version,
                maxFrameSize: hello.maxFrameSize,
                address: address
            )
            reply(.helloAck(ack), to: id, context: context)
        case .failure(let refusal):
            metrics.refused(refusal.code)
            logger.warning(
                "refused a connection",
                metadata: ["net/peer": "\(address)", "net/code": "\(refusal.code)", "net/reason": "\(refusal.text)"]
            )
            replyAndClose(.error(refusal), to: id, context: context)
        }
    }

    /// A request the peer's role may not send: a typed refusal, then the connection closes.
    private func refuse(_ type: MessageType, id: UInt64, peer: ConnectedPeer, context: ChannelHandlerContext) {
        let role = peer.identity.role
        let allowed = permissions.allowedTypes(for: role).map { types in
            types.map { "\($0)" }.sorted().joined(separator: ", ")
        }
        let text =
            "\(role) \(peer.identity.nodeID) may not send \(type) to \(negotiation.local)"
            + (allowed.map { " (a \(role) may send: \($0.isEmpty ? "nothing but pings" : $0))" } ?? "")
        refused = true
        metrics.refused(.roleNotAllowed)
        logger.warning(
            "refused a request its role may not send; closing the connection",
            metadata: ["net/peer": "\(address)", "net/code": "\(ErrorCode.roleNotAllowed)", "net/reason": "\(text)"]
        )
        replyAndClose(.error(ErrorReply(code: .roleNotAllowed, text: text)), to: id, context: context)
    }

    private func dispatch(_ message: Message, id: UInt64, peer: ConnectedPeer, context: ChannelHandlerContext) {
        guard inFlight < maxInFlight else {
            waiting.append((message, id))
            updateReading(context: context)
            return
        }
        inFlight += 1
        updateReading(context: context)
        if appendHandler != nil, case .appendRequest(let request) = message {
            burst.append((request, id))  // handed over at the end of the read
            return
        }
        let handler = self.handler
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.makeFutureWithTask { await handler(peer, message) }.whenComplete { result in
            let (this, context) = loopBound.value
            this.answered(try? result.get(), id: id, peer: peer, context: context)
        }
    }

    /// A request was answered: sends the answer, then lets a waiting request in.
    private func answered(_ answer: Message?, id: UInt64, peer: ConnectedPeer, context: ChannelHandlerContext) {
        inFlight -= 1
        if let answer, context.channel.isActive {
            reply(answer, to: id, context: context)
        }
        if let next = waiting.popFirst() {
            dispatch(next.message, id: next.id, peer: peer, context: context)
            handBurstOver(context: context)  // no read completes for a request that waited
        }
        updateReading(context: context)
    }

    private func reply(_ message: Message, to id: UInt64, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.response(message, to: id)), promise: nil)
        scheduleFlush(context: context)
    }

    /// Sends a last answer, then closes once it is written.
    private func replyAndClose(_ message: Message, to id: UInt64, context: ChannelHandlerContext) {
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.response(message, to: id))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// Coalesces the flushes of answers completed in the same event-loop tick into one syscall.
    private func scheduleFlush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (this, context) = loopBound.value
            this.flushScheduled = false
            context.flush()
        }
    }

    /// Pauses reading while too much is in flight or the peer is not reading our answers.
    private func updateReading(context: ChannelHandlerContext) {
        let shouldPause = inFlight >= maxInFlight || !waiting.isEmpty || !context.channel.isWritable
        guard shouldPause != readingPaused else { return }
        readingPaused = shouldPause
        if !shouldPause { context.read() }
    }

    func read(context: ChannelHandlerContext) {
        if !readingPaused { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        updateReading(context: context)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is IdleStateHandler.IdleStateEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // Before the hello, the handshake timeout is what bounds the wait.
        guard peer != nil else { return }
        switch keepAlive.idle() {
        case .sendPing(let nonce):
            context.writeAndFlush(wrapOutboundOut(.request(.ping(Ping(nonce: nonce)), id: 0)), promise: nil)
        case .closeDeadPeer:
            logger.warning(
                "\(DeadPeerError(peer: address, silence: keepAliveInterval + keepAliveInterval))",
                metadata: ["net/peer": "\(address)"]
            )
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        // Appends already read are applied like requests already being handled; nobody hears back.
        handBurstOver(context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let wireError = error as? WireError {
            // Frame-level trouble: say what was wrong (id 0: about the connection), then close.
            logger.warning("closing connection", metadata: ["net/peer": "\(address)", "net/error": "\(wireError)"])
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.request(.error(ErrorReply(wireError)), id: 0))).whenComplete { _ in
                channel.close(promise: nil)
            }
        } else {
            logger.debug("connection error", metadata: ["net/peer": "\(address)", "net/error": "\(error)"])
            context.close(promise: nil)
        }
    }
}
