internal import COpenSSL
internal import CReplogOpenSSLShims
internal import NIOCore

/// One OpenSSL `SSL` object over a ``ByteBufferBIO``: ciphertext from the network is queued for
/// OpenSSL to read, and what OpenSSL wants to send accumulates until the handler drains it.
/// No socket is involved, so the same code runs over EmbeddedChannel and real sockets.
final class TLSConnection {
    enum Outcome: Equatable {
        case complete
        case wantMoreData
        case failed(TLSError)
    }

    enum ReadOutcome {
        case wantMoreData
        case closeNotify
        case failed(TLSError)
    }

    let ssl: OpaquePointer
    /// The ciphertext queues OpenSSL reads from and writes into.
    let bio: ByteBufferBIO
    /// Kept alive for as long as the connection: the `SSL` refers to its `SSL_CTX`.
    let context: TLSContext

    init(context: TLSContext, serverName: String?, allocator: ByteBufferAllocator) throws {
        let bio = ByteBufferBIO(allocator: allocator)
        guard let ssl = SSL_new(context.pointer) else {
            throw TLSError.invalidConfiguration("cannot create an SSL connection", openSSL: OpenSSLErrorQueue.drain())
        }
        guard let raw = bio.makeBIO() else {
            SSL_free(ssl)
            throw TLSError.invalidConfiguration("cannot create a BIO", openSSL: OpenSSLErrorQueue.drain())
        }
        self.ssl = ssl
        self.bio = bio
        self.context = context
        // One BIO for both directions; SSL_set_bio takes the extra reference itself.
        SSL_set_bio(ssl, raw, raw)
        if let serverName {
            SSL_set_connect_state(ssl)
            if HostName.isIPAddress(serverName) {
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), serverName)
            } else {
                SSL_set1_host(ssl, serverName)
                _ = replog_SSL_set_tlsext_host_name(ssl, serverName)
            }
        } else {
            SSL_set_accept_state(ssl)
        }
    }

    deinit { SSL_free(ssl) }

    /// Hands ciphertext from the network to OpenSSL.
    func feed(_ buffer: ByteBuffer) { bio.append(buffer) }

    func handshake() -> Outcome {
        OpenSSLErrorQueue.clear()
        let result = SSL_do_handshake(ssl)
        if result == 1 { return .complete }
        let code = SSL_get_error(ssl, result)
        if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { return .wantMoreData }
        return .failed(classify(code: code, duringHandshake: true))
    }

    /// Decrypts what is available, handing each filled buffer to `deliver`.
    ///
    /// `deliver` may re-enter this connection (an echo writes from inside it), so OpenSSL's verdict
    /// on the last `SSL_read` is taken before anything is delivered: `SSL_write` resets the state
    /// `SSL_get_error` reads.
    func readApplicationData(allocator: ByteBufferAllocator, deliver: (ByteBuffer) -> Void) -> ReadOutcome {
        while true {
            OpenSSLErrorQueue.clear()
            // Plaintext is never larger than the ciphertext it comes from.
            let available = bio.inboundBytes + Int(SSL_pending(ssl))
            var buffer = allocator.buffer(capacity: max(16_384, min(available, 4 << 20)))
            var stop: ReadOutcome? = nil
            while buffer.writableBytes > 0 {
                var result: Int32 = 0
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { bytes in
                    result = SSL_read(ssl, bytes.baseAddress, Int32(clamping: bytes.count))
                    return max(0, Int(result))
                }
                if result > 0 { continue }
                let code = SSL_get_error(ssl, result)
                switch code {
                case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: stop = .wantMoreData
                case SSL_ERROR_ZERO_RETURN: stop = .closeNotify
                default: stop = .failed(classify(code: code, duringHandshake: false))
                }
                break
            }
            if buffer.readableBytes > 0 { deliver(buffer) }
            if let stop { return stop }
        }
    }

    /// Encrypts `buffer`; the records land in `outbound`.
    func write(_ buffer: ByteBuffer) -> TLSError? {
        guard buffer.readableBytes > 0 else { return nil }
        OpenSSLErrorQueue.clear()
        // Each record of at most 16 KiB adds a header, a tag and a content type byte.
        bio.reserveOutbound(buffer.readableBytes + (buffer.readableBytes / 16_384 + 1) * 64)
        let result = buffer.withUnsafeReadableBytes { bytes in
            SSL_write(ssl, bytes.baseAddress, Int32(clamping: bytes.count))
        }
        // Our BIO never refuses, so a full write or an error are the only outcomes.
        if result == buffer.readableBytes { return nil }
        return classify(code: SSL_get_error(ssl, result), duringHandshake: false)
    }

    /// Sends our close_notify (first call) or checks whether the peer's arrived; `.complete` when
    /// both directions are closed.
    func shutdown() -> Outcome {
        OpenSSLErrorQueue.clear()
        let result = SSL_shutdown(ssl)
        if result == 1 { return .complete }
        if result == 0 { return .wantMoreData }
        let code = SSL_get_error(ssl, result)
        if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { return .wantMoreData }
        return .failed(classify(code: code, duringHandshake: false))
    }

    /// What OpenSSL wants sent, if anything.
    func drainOutbound(allocator: ByteBufferAllocator) -> ByteBuffer? { bio.takeOutbound() }

    /// The verified peer certificate, after the handshake.
    var peerCertificate: X509Certificate? {
        replog_SSL_get_peer_certificate(ssl).map { X509Certificate(taking: $0) }
    }

    /// The negotiated protocol version, for example `TLSv1.3`.
    var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The negotiated cipher suite.
    var cipherSuite: String {
        guard let cipher = SSL_get_current_cipher(ssl) else { return "none" }
        return String(cString: SSL_CIPHER_get_name(cipher))
    }

    /// Turns a failure into the most specific ``TLSError``: our verification result first, then
    /// the reasons in OpenSSL's queue.
    private func classify(code: Int32, duringHandshake: Bool) -> TLSError {
        let entries = OpenSSLErrorQueue.drain()
        let verify = Int32(truncatingIfNeeded: SSL_get_verify_result(ssl))
        let sslLibrary = Int32(ERR_LIB_SSL)
        if entries.contains(where: { $0.library == sslLibrary && $0.reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE })
        {
            return .peerCertificateMissing(openSSL: entries)
        }
        if verify != X509_V_OK {
            return .peerCertificateRejected(Self.verificationFailure(verify), openSSL: entries)
        }
        if let alert = entries.first(where: { $0.library == sslLibrary && $0.reason >= SSL_AD_REASON_OFFSET }) {
            return .alertReceived(alert: alert.reason - Int32(SSL_AD_REASON_OFFSET), openSSL: entries)
        }
        if code == SSL_ERROR_SYSCALL && entries.isEmpty {
            return duringHandshake ? .closedDuringHandshake : .uncleanShutdown
        }
        return duringHandshake ? .handshakeFailed(openSSL: entries) : .protocolFailure(openSSL: entries)
    }

    static func verificationFailure(_ code: Int32) -> CertificateVerificationFailure {
        switch code {
        case X509_V_ERR_CERT_HAS_EXPIRED: .expired
        case X509_V_ERR_CERT_NOT_YET_VALID: .notYetValid
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
            X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
            .unknownIssuer
        case X509_V_ERR_HOSTNAME_MISMATCH: .hostnameMismatch
        case X509_V_ERR_IP_ADDRESS_MISMATCH: .ipAddressMismatch
        case X509_V_ERR_CERT_SIGNATURE_FAILURE: .badSignature
        default: .other(code: code, text: String(cString: X509_verify_cert_error_string(Int(code))))
        }
    }
}
