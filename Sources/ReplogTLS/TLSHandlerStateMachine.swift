public import NIOCore

/// The decisions of ``TLSHandler``, free of OpenSSL and of the channel: events go in, actions come
/// out, and the handler performs them. Keeping them here lets every ordering (writes before the
/// handshake, close during the handshake, a peer that vanishes) be tested without I/O.
public struct TLSHandlerStateMachine {
    /// Where the connection is.
    public enum State: Equatable {
        /// The channel is not active yet.
        case idle
        /// The handshake is running; writes are held back.
        case handshaking
        /// Application data flows both ways.
        case active
        /// We sent close_notify and wait for the peer's (or the shutdown timeout).
        case closing
        /// Done; nothing more is sent or delivered.
        case closed
    }

    /// A write held back until the handshake ends.
    public struct PendingWrite {
        public var data: ByteBuffer
        public var promise: EventLoopPromise<Void>?
    }

    public enum ActiveAction: Equatable {
        case startHandshake
        case none
    }

    public enum ReceiveAction: Equatable {
        /// Feed the bytes to OpenSSL and continue the handshake.
        case continueHandshake
        /// Feed the bytes to OpenSSL and read application data (or the peer's close_notify).
        case readApplicationData
        /// The peer speaks plaintext on our TLS port: fail and close without involving OpenSSL.
        case rejectPlaintext(TLSError)
        /// Nothing to do (the connection is closed).
        case discard
    }

    public enum HandshakeCompletedAction {
        /// Announce the peer, write the held-back writes (then flush if one was asked for), and read
        /// application data that may have arrived with the handshake's last flight.
        case activate(writes: [PendingWrite], flush: Bool)
        /// A close was requested during the handshake; close now.
        case none
    }

    public enum FailureAction {
        /// Send what OpenSSL queued (an alert), fire the error, fail held-back writes and close,
        /// completing the pending close promise (of a shutdown in progress) with the close.
        case failAndClose(TLSError, writes: [PendingWrite], closePromise: EventLoopPromise<Void>?)
        case none
    }

    public enum WriteAction {
        case write
        case buffered
        case fail(TLSError)
    }

    public enum CloseNotifyAction {
        /// The peer closed first: answer with our close_notify, then close the channel.
        case replyAndClose
        /// The peer answered our close_notify: close the channel and complete the close promise.
        case close(EventLoopPromise<Void>?)
        case none
    }

    public enum CloseAction {
        /// Send close_notify and start the shutdown timer.
        case sendCloseNotify
        /// Close without TLS shutdown (no session yet), failing held-back writes.
        case closeNow(writes: [PendingWrite])
        /// A shutdown is already running; its end completes this promise too.
        case alreadyClosing
    }

    public enum TimeoutAction {
        case forceClose(EventLoopPromise<Void>?)
        case none
    }

    public enum InactiveAction {
        /// Report the error (the connection was cut) and fail held-back writes.
        case fire(TLSError, writes: [PendingWrite], closePromise: EventLoopPromise<Void>?)
        /// A shutdown we started ended with the peer closing the socket: a normal end.
        case completeClose(EventLoopPromise<Void>?)
        case none
    }

    /// The current state.
    public private(set) var state: State = .idle
    private let isServer: Bool
    private var pendingWrites: [PendingWrite] = []
    private var flushPending = false
    private var checkedFirstByte = false
    private var closePromise: EventLoopPromise<Void>?

    /// A state machine for the server (`isServer`) or client end.
    public init(isServer: Bool) { self.isServer = isServer }

    /// The channel became active (or the handler was added to an active channel).
    public mutating func channelActive() -> ActiveAction {
        guard state == .idle else { return .none }
        state = .handshaking
        return .startHandshake
    }

    /// Ciphertext arrived; `firstByte` is its first byte, used to catch plaintext peers.
    public mutating func bytesReceived(firstByte: UInt8?) -> ReceiveAction {
        switch state {
        case .idle, .handshaking:
            // A TLS peer's first record is a handshake (content type 22), or from a server an alert
            // (21) refusing us. Anything else is a plaintext peer: say so instead of an OpenSSL riddle.
            if !checkedFirstByte, let firstByte {
                checkedFirstByte = true
                if firstByte != 0x16 && (isServer || firstByte != 0x15) {
                    state = .closed
                    return .rejectPlaintext(.plaintextPeer(firstBytes: [firstByte]))
                }
            }
            state = .handshaking
            return .continueHandshake
        case .active, .closing:
            return .readApplicationData
        case .closed:
            return .discard
        }
    }

    /// OpenSSL reported the handshake complete and the peer was accepted.
    public mutating func handshakeCompleted() -> HandshakeCompletedAction {
        guard state == .handshaking else { return .none }
        state = .active
        let writes = pendingWrites
        let flush = flushPending
        pendingWrites = []
        flushPending = false
        return .activate(writes: writes, flush: flush)
    }

    /// The handshake, a read or a write failed, or the peer was refused.
    public mutating func failed(_ error: TLSError) -> FailureAction {
        guard state != .closed else { return .none }
        state = .closed
        let writes = pendingWrites
        pendingWrites = []
        let promise = closePromise
        closePromise = nil
        return .failAndClose(error, writes: writes, closePromise: promise)
    }

    /// The application writes `data`.
    public mutating func write(_ data: ByteBuffer, promise: EventLoopPromise<Void>?) -> WriteAction {
        switch state {
        case .idle, .handshaking:
            pendingWrites.append(PendingWrite(data: data, promise: promise))
            return .buffered
        case .active:
            return .write
        case .closing, .closed:
            return .fail(.writeAfterClose)
        }
    }

    /// The application flushes; returns whether to flush the channel now.
    public mutating func flush() -> Bool {
        switch state {
        case .idle, .handshaking:
            flushPending = true
            return false
        case .active, .closing:
            return true
        case .closed:
            return false
        }
    }

    /// OpenSSL read the peer's close_notify.
    public mutating func closeNotifyReceived() -> CloseNotifyAction {
        switch state {
        case .active:
            state = .closed
            return .replyAndClose
        case .closing:
            state = .closed
            let promise = closePromise
            closePromise = nil
            return .close(promise)
        case .idle, .handshaking, .closed:
            return .none
        }
    }

    /// The application asked to close the channel.
    public mutating func closeRequested(promise: EventLoopPromise<Void>?) -> CloseAction {
        switch state {
        case .active:
            state = .closing
            closePromise = promise
            return .sendCloseNotify
        case .closing:
            if let promise {
                if let existing = closePromise {
                    existing.futureResult.cascade(to: promise)
                } else {
                    closePromise = promise
                }
            }
            return .alreadyClosing
        case .idle, .handshaking, .closed:
            state = .closed
            let writes = pendingWrites
            pendingWrites = []
            return .closeNow(writes: writes)
        }
    }

    /// The peer did not answer our close_notify in time.
    public mutating func shutdownTimedOut() -> TimeoutAction {
        guard state == .closing else { return .none }
        state = .closed
        let promise = closePromise
        closePromise = nil
        return .forceClose(promise)
    }

    /// The channel went inactive.
    public mutating func channelInactive() -> InactiveAction {
        let previous = state
        state = .closed
        let writes = pendingWrites
        pendingWrites = []
        let promise = closePromise
        closePromise = nil
        switch previous {
        case .idle, .closed:
            return .none
        case .handshaking:
            return .fire(.closedDuringHandshake, writes: writes, closePromise: promise)
        case .active:
            return .fire(.uncleanShutdown, writes: writes, closePromise: promise)
        case .closing:
            return .completeClose(promise)
        }
    }
}
