public import ReplogModel

/// Why a peer certificate failed verification, from OpenSSL's `X509_V_ERR_*` result.
public enum CertificateVerificationFailure: Sendable, Hashable, CustomStringConvertible {
    /// The certificate's `notAfter` is in the past.
    case expired
    /// The certificate's `notBefore` is in the future.
    case notYetValid
    /// The certificate was not issued by a CA in our bundle (another cluster's CA, or self-signed).
    case unknownIssuer
    /// The certificate does not name the DNS host it was dialled by.
    case hostnameMismatch
    /// The certificate does not name the IP address it was dialled by.
    case ipAddressMismatch
    /// The signature does not verify.
    case badSignature
    /// Any other verification result, with OpenSSL's code and text.
    case other(code: Int32, text: String)

    public var description: String {
        switch self {
        case .expired: "certificate has expired"
        case .notYetValid: "certificate is not yet valid"
        case .unknownIssuer: "certificate was not issued by the trusted CA"
        case .hostnameMismatch: "certificate does not name the host name it was dialled by"
        case .ipAddressMismatch: "certificate does not name the IP address it was dialled by"
        case .badSignature: "certificate signature is invalid"
        case .other(let code, let text): "certificate verification failed (\(code)): \(text)"
        }
    }
}

/// The errors of the TLS layer. Each says what happened and what an operator can do about it;
/// OpenSSL's own error-queue text is carried where OpenSSL produced the failure.
public enum TLSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Certificates, keys or settings could not be loaded into an OpenSSL context.
    case invalidConfiguration(String, openSSL: [OpenSSLErrorEntry])
    /// We rejected the peer's certificate.
    case peerCertificateRejected(CertificateVerificationFailure, openSSL: [OpenSSLErrorEntry])
    /// Mutual TLS is required but the peer sent no certificate.
    case peerCertificateMissing(openSSL: [OpenSSLErrorEntry])
    /// The peer's certificate carries no `replog://role/<role>/<id>` SAN URI.
    case peerRoleMissing(subject: String)
    /// The peer's certificate carries a role this endpoint does not accept.
    case peerRoleNotAllowed(CertificateIdentity, allowed: Set<NodeRole>)
    /// The peer refused the handshake with a TLS alert (for example it did not trust our certificate).
    case alertReceived(alert: Int32, openSSL: [OpenSSLErrorEntry])
    /// The first bytes from the peer are not a TLS record: a plaintext client on our TLS port, or a
    /// plaintext server we dialled.
    case plaintextPeer(firstBytes: [UInt8])
    /// Any other handshake failure.
    case handshakeFailed(openSSL: [OpenSSLErrorEntry])
    /// Reading or writing application data failed after the handshake.
    case protocolFailure(openSSL: [OpenSSLErrorEntry])
    /// The connection closed before the handshake finished.
    case closedDuringHandshake
    /// The connection closed without a TLS close_notify from the peer (data may have been cut).
    case uncleanShutdown
    /// We sent close_notify but the peer did not answer within the shutdown timeout; closed anyway.
    case shutdownTimedOut
    /// A write was attempted after the TLS connection started closing.
    case writeAfterClose

    /// A short stable name for metrics and log fields (`role_not_allowed`, `certificate_expired`, ...).
    public var reason: String {
        switch self {
        case .invalidConfiguration: "invalid_configuration"
        case .peerCertificateRejected(let failure, _):
            switch failure {
            case .expired: "certificate_expired"
            case .notYetValid: "certificate_not_yet_valid"
            case .unknownIssuer: "certificate_unknown_issuer"
            case .hostnameMismatch, .ipAddressMismatch: "certificate_address_mismatch"
            case .badSignature: "certificate_bad_signature"
            case .other: "certificate_rejected"
            }
        case .peerCertificateMissing: "certificate_missing"
        case .peerRoleMissing: "role_missing"
        case .peerRoleNotAllowed: "role_not_allowed"
        case .alertReceived: "alert_received"
        case .plaintextPeer: "plaintext_peer"
        case .handshakeFailed: "handshake_failed"
        case .protocolFailure: "protocol_failure"
        case .closedDuringHandshake: "closed_during_handshake"
        case .uncleanShutdown: "unclean_shutdown"
        case .shutdownTimedOut: "shutdown_timed_out"
        case .writeAfterClose: "write_after_close"
        }
    }

    public var description: String {
        switch self {
        case .invalidConfiguration(let what, let openSSL):
            return "TLS configuration invalid: \(what) (\(OpenSSLErrorQueue.text(openSSL)))"
        case .peerCertificateRejected(let failure, let openSSL):
            return "peer certificate rejected: \(failure); check that the peer uses a certificate from this "
                + "cluster's CA that is valid now and names the address it is dialled by "
                + "(\(OpenSSLErrorQueue.text(openSSL)))"
        case .peerCertificateMissing:
            return "peer sent no certificate: mutual TLS is required, configure the peer with a certificate "
                + "made by `replog certs create-node` or `create-client`"
        case .peerRoleMissing(let subject):
            return "peer certificate \(subject) carries no replog://role/<role>/<id> URI; "
                + "make it with `replog certs`"
        case .peerRoleNotAllowed(let peer, let allowed):
            let names = allowed.map(\.description).sorted().joined(separator: ", ")
            return "peer \(peer) has role \(peer.role), but this endpoint accepts only: \(names)"
        case .alertReceived(let alert, let openSSL):
            return "peer refused the TLS handshake with alert \(alert) (\(OpenSSLErrorQueue.text(openSSL))); "
                + "check that the peer trusts our CA and our certificate is valid"
        case .plaintextPeer(let bytes):
            let hex = bytes.map { String($0, radix: 16) }.joined(separator: " ")
            return "peer speaks plaintext, not TLS (first bytes \(hex)); use TLS on both ends "
                + "(or --insecure on both ends, never in production)"
        case .handshakeFailed(let openSSL):
            return "TLS handshake failed: \(OpenSSLErrorQueue.text(openSSL))"
        case .protocolFailure(let openSSL):
            return "TLS connection failed: \(OpenSSLErrorQueue.text(openSSL))"
        case .closedDuringHandshake:
            return "connection closed during the TLS handshake"
        case .uncleanShutdown:
            return "connection closed without TLS close_notify; the last data may have been cut"
        case .shutdownTimedOut:
            return "peer did not answer close_notify within the shutdown timeout; connection closed"
        case .writeAfterClose:
            return "write on a TLS connection that is closing or closed"
        }
    }
}
