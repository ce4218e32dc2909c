import NIOCore
import NIOEmbedded
import ReplogTLS
import Testing

@Suite("TLS handler state machine")
struct TLSHandlerStateMachineTests {
    @Test func serverRejectsPlaintextFirstByte() {
        var machine = TLSHandlerStateMachine(isServer: true)
        #expect(machine.channelActive() == .startHandshake)
        #expect(
            machine.bytesReceived(firstByte: UInt8(ascii: "G")) == .rejectPlaintext(.plaintextPeer(firstBytes: [0x47]))
        )
        #expect(machine.state == .closed)
    }

    @Test func clientAcceptsHandshakeOrAlertFirstAndRefusesPlaintext() {
        var handshake = TLSHandlerStateMachine(isServer: false)
        _ = handshake.channelActive()
        #expect(handshake.bytesReceived(firstByte: 0x16) == .continueHandshake)
        var alert = TLSHandlerStateMachine(isServer: false)
        _ = alert.channelActive()
        #expect(alert.bytesReceived(firstByte: 0x15) == .continueHandshake)
        var plaintext = TLSHandlerStateMachine(isServer: false)
        _ = plaintext.channelActive()
        #expect(plaintext.bytesReceived(firstByte: 0x00) == .rejectPlaintext(.plaintextPeer(firstBytes: [0])))
        // Only the first byte of the connection is judged.
        #expect(handshake.bytesReceived(firstByte: 0x00) == .continueHandshake)
    }

    @Test func writesBeforeHandshakeAreHeldAndReleasedInOrderWithFlush() throws {
        var machine = TLSHandlerStateMachine(isServer: false)
        _ = machine.channelActive()
        guard case .buffered = machine.write(ByteBuffer(string: "a"), promise: nil) else {
            Issue.record("write during handshake not buffered")
            return
        }
        _ = machine.write(ByteBuffer(string: "b"), promise: nil)
        #expect(machine.flush() == false)
        guard case .activate(let writes, let flush) = machine.handshakeCompleted() else {
            Issue.record("handshake completion did not activate")
            return
        }
        #expect(writes.map { String(buffer: $0.data) } == ["a", "b"])
        #expect(flush)
        guard case .write = machine.write(ByteBuffer(string: "c"), promise: nil) else {
            Issue.record("write after handshake not direct")
            return
        }
    }

    @Test func closeNotifyFromPeerIsAnsweredAndClosing() {
        var machine = TLSHandlerStateMachine(isServer: true)
        _ = machine.channelActive()
        _ = machine.handshakeCompleted()
        guard case .replyAndClose = machine.closeNotifyReceived() else {
            Issue.record("peer close_notify not answered")
            return
        }
        #expect(machine.state == .closed)
    }

    @Test func ourCloseWaitsForPeerThenTimesOut() {
        var machine = TLSHandlerStateMachine(isServer: true)
        _ = machine.channelActive()
        _ = machine.handshakeCompleted()
        guard case .sendCloseNotify = machine.closeRequested(promise: nil) else {
            Issue.record("close did not send close_notify")
            return
        }
        #expect(machine.state == .closing)
        guard case .fail(.writeAfterClose) = machine.write(ByteBuffer(), promise: nil) else {
            Issue.record("write while closing accepted")
            return
        }
        guard case .forceClose = machine.shutdownTimedOut() else {
            Issue.record("timeout did not force the close")
            return
        }
        guard case .none = machine.shutdownTimedOut() else {
            Issue.record("second timeout acted")
            return
        }
    }

    @Test func inactiveWhileActiveIsUncleanAndDuringHandshakeIsReported() {
        var active = TLSHandlerStateMachine(isServer: true)
        _ = active.channelActive()
        _ = active.handshakeCompleted()
        guard case .fire(.uncleanShutdown, _, _) = active.channelInactive() else {
            Issue.record("unclean shutdown not reported")
            return
        }
        var handshaking = TLSHandlerStateMachine(isServer: true)
        _ = handshaking.channelActive()
        guard case .fire(.closedDuringHandshake, _, _) = handshaking.channelInactive() else {
            Issue.record("close during handshake not reported")
            return
        }
        var closing = TLSHandlerStateMachine(isServer: true)
        _ = closing.channelActive()
        _ = closing.handshakeCompleted()
        _ = closing.closeRequested(promise: nil)
        guard case .completeClose = closing.channelInactive() else {
            Issue.record("peer closing the socket after our close_notify not a normal end")
            return
        }
    }

    @Test func closeDuringHandshakeFailsHeldWrites() throws {
        let loop = EmbeddedEventLoop()
        var machine = TLSHandlerStateMachine(isServer: false)
        _ = machine.channelActive()
        let promise = loop.makePromise(of: Void.self)
        _ = machine.write(ByteBuffer(string: "x"), promise: promise)
        guard case .closeNow(let writes) = machine.closeRequested(promise: nil) else {
            Issue.record("close during handshake not immediate")
            return
        }
        #expect(writes.count == 1)
        writes.forEach { $0.promise?.fail(TLSError.writeAfterClose) }
        loop.run()
        #expect(throws: TLSError.writeAfterClose) { try promise.futureResult.wait() }
    }
}
