import NIOCore
import ReplogModel
import ReplogWire

/// A request on its way out of an ``RPCConnection``.
struct OutboundRequest: Sendable {
    var message: Message
    var timeout: TimeAmount
    /// Completed with the response, or `nil` for one-way messages once written.
    var promise: EventLoopPromise<Message>?
}

/// The client end of a connection: sends the hello, then matches responses to requests by id,
/// with a timeout per request and a bound on requests in flight.
final class RPCClientHandler: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias OutboundIn = OutboundRequest
    typealias OutboundOut = Envelope

    private struct Pending {
        var type: MessageType
        var promise: EventLoopPromise<Message>
        var timeout: TimeAmount
        var deadline: NIODeadline
    }

    private let hello: Hello
    private let handshakeTimeout: TimeAmount
    private let handshake: EventLoopPromise<HelloAck>
    private var handshakeTimer: Scheduled<Void>?
    private var handshakeDone = false
    private var requests: RequestTable<Pending>
    private var keepAlive = KeepAliveState()
    private let keepAliveInterval: TimeAmount
    private var peer = "peer"
    private var flushScheduled = false
    /// One timer for every request's timeout, set for the earliest deadline: a timer per request
    /// cost a heap insertion and a removal each, on every append.
    private var sweep: (timer: Scheduled<Void>, at: NIODeadline)?

    init(
        hello: Hello,
        handshake: EventLoopPromise<HelloAck>,
        handshakeTimeout: TimeAmount,
        maxInFlight: Int,
        keepAlive: KeepAlive
    ) {
        self.hello = hello
        self.handshake = handshake
        self.handshakeTimeout = handshakeTimeout
        self.requests = RequestTable(limit: maxInFlight)
        self.keepAliveInterval = keepAlive.interval
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = context.remoteAddress.map { "\($0)" } ?? "peer"
        context.writeAndFlush(wrapOutboundOut(.request(.hello(hello), id: 0)), promise: nil)
        let handshake = self.handshake
        let peer = self.peer
        let timeout = handshakeTimeout
        let channel = context.channel
        handshakeTimer = context.eventLoop.scheduleTask(in: timeout) {
            handshake.fail(RPCError.handshakeTimeout(peer: peer, after: .nanoseconds(timeout.nanoseconds)))
            channel.close(promise: nil)
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        keepAlive.received()
        let message: Message
        do {
            message = try Message(frame: frame)
        } catch {
            failResponse(id: frame.header.requestID, error: error, context: context)
            return
        }
        guard handshakeDone else {
            completeHandshake(with: message, context: context)
            return
        }
        if !frame.header.flags.contains(.response) {
            // The server may probe us too.
            if case .ping(let ping) = message {
                context.writeAndFlush(wrapOutboundOut(.response(.pong(ping), to: frame.header.requestID)), promise: nil)
            }
            return
        }
        if case .pong = message, frame.header.requestID == 0 { return }
        guard let pending = requests.remove(frame.header.requestID) else { return }
        if case .error(let reply) = message {
            pending.promise.fail(reply)
        } else {
            pending.promise.succeed(message)
        }
    }

    private func completeHandshake(with message: Message, context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        switch message {
        case .helloAck(let ack):
            handshakeDone = true
            handshake.succeed(ack)
        case .error(let reply):
            handshake.fail(RPCError.refused(reply, peer: peer))
            context.close(promise: nil)
        default:
            handshake.fail(RPCError.handshakeViolation(peer: peer, detail: "expected HelloAck, got \(message.type)"))
            context.close(promise: nil)
        }
    }

    private func failResponse(id: UInt64, error: any Error, context: ChannelHandlerContext) {
        if !handshakeDone {
            handshakeTimer?.cancel()
            handshake.fail(RPCError.handshakeViolation(peer: peer, detail: "\(error)"))
            context.close(promise: nil)
        } else if let pending = requests.remove(id) {
            pending.promise.fail(error)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard let responsePromise = request.promise else {
            context.write(wrapOutboundOut(.request(request.message, id: 0)), promise: promise)
            return
        }
        let deadline = NIODeadline.now() + request.timeout
        let pending = Pending(
            type: request.message.type,
            promise: responsePromise,
            timeout: request.timeout,
            deadline: deadline
        )
        guard let id = requests.insert({ _ in pending }) else {
            let error = RPCError.overloaded(limit: requests.limit, peer: peer)
            responsePromise.fail(error)
            promise?.fail(error)
            return
        }
        if sweep.map({ deadline < $0.at }) ?? true { scheduleSweep(at: deadline, context: context) }
        context.write(wrapOutboundOut(.request(request.message, id: id)), promise: promise)
    }

    private func scheduleSweep(at deadline: NIODeadline, context: ChannelHandlerContext) {
        sweep?.timer.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (this, context) = loopBound.value
            this.sweep = nil
            this.expireOverdue(context: context)
        }
        sweep = (timer, deadline)
    }

    /// Fails the requests whose deadline passed; sets the timer for the earliest one left.
    private func expireOverdue(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        for pending in requests.removeAll(where: { $0.deadline <= now }) {
            pending.promise.fail(
                RPCError.timeout(request: pending.type, after: .nanoseconds(pending.timeout.nanoseconds), peer: peer)
            )
        }
        if let earliest = requests.earliest(by: \.deadline) { scheduleSweep(at: earliest, context: context) }
    }

    /// Coalesces the flushes of requests written in the same event-loop tick into one syscall:
    /// many tasks sending at once then cost one write instead of one each.
    func flush(context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (this, context) = loopBound.value
            this.flushScheduled = false
            context.flush()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is IdleStateHandler.IdleStateEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // Before the hello-ack, the handshake timeout is what bounds the wait.
        guard handshakeDone else { return }
        switch keepAlive.idle() {
        case .sendPing(let nonce):
            context.writeAndFlush(wrapOutboundOut(.request(.ping(Ping(nonce: nonce)), id: 0)), promise: nil)
        case .closeDeadPeer:
            context.fireErrorCaught(DeadPeerError(peer: peer, silence: keepAliveInterval + keepAliveInterval))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        if !handshakeDone { handshake.fail(RPCError.connectionClosed(peer: peer)) }
        sweep?.timer.cancel()
        sweep = nil
        for pending in requests.removeAll() {
            pending.promise.fail(RPCError.connectionClosed(peer: peer))
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Before the hello-ack, the error is why the connection failed (a TLS refusal, for example):
        // report it instead of the bare "connection closed" that follows.
        if !handshakeDone {
            handshakeTimer?.cancel()
            handshake.fail(error)
        }
        // A frame-level error loses the frame boundary: nothing more can be read safely.
        context.close(promise: nil)
        context.fireErrorCaught(error)
    }
}
