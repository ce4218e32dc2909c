public import Logging
import NIOCore
public import ReplogModel
public import ReplogNet
public import ReplogTLS
public import ReplogWire

extension TransportSecurity {
    /// Mutual TLS on the system OpenSSL for every connection of an ``RPCServer`` or
    /// ``RPCConnection``: each new connection takes `provider`'s current material (so a reload
    /// applies to new connections), and on the server the hello must claim the role and id its
    /// certificate proves.
    public static func mutualTLS(
        _ provider: TLSContextProvider,
        logger: Logger = Logger(label: "replog.tls")
    ) -> TransportSecurity {
        TransportSecurity(
            configure: { channel, serverHostname in
                let mode: TLSHandler.Mode = serverHostname.map { .client(host: $0) } ?? .server
                try channel.pipeline.syncOperations.addHandlers(
                    [TLSHandler(provider: provider, mode: mode), TLSEventLogger(logger: logger)],
                    position: .first
                )
            },
            verifyHello: { hello, channel in
                // Frames only flow after the handshake, so a verified peer is known by now.
                let certificate = try? channel.pipeline.syncOperations.handler(type: TLSHandler.self).peer
                return HelloCertificateCheck.refusal(hello: hello, certificate: certificate)
            }
        )
    }
}

/// Whether a hello agrees with the certificate that secured its connection: a process may only
/// claim the role and id the cluster CA granted it (a client cannot say it is a replica).
public enum HelloCertificateCheck {
    /// The refusal to send, or nil when the hello matches the certificate.
    public static func refusal(hello: Hello, certificate: CertificateIdentity?) -> ErrorReply? {
        guard let certificate else {
            return ErrorReply(
                code: .roleNotAllowed,
                text: "no verified TLS certificate on this connection; connect with mutual TLS"
            )
        }
        guard certificate.role == hello.role, certificate.id == hello.nodeID else {
            return ErrorReply(
                code: .roleNotAllowed,
                text: "the hello claims \(hello.role) \(hello.nodeID) but the TLS certificate is for "
                    + "\(certificate.role) \(certificate.id); use the certificate made for this process"
            )
        }
        return nil
    }
}

extension TransportSecurity {
    /// Mutual TLS from PEM files (for example those `replog certs` made), accepting peers whose
    /// certificates carry one of `allowedPeerRoles`. Throws ``TLSError/invalidConfiguration(_:openSSL:)``
    /// naming the file that could not be loaded.
    public static func mutualTLS(
        certificatePath: String,
        keyPath: String,
        caPath: String,
        allowedPeerRoles: Set<NodeRole>,
        allowTLS12: Bool = false,
        logger: Logger = Logger(label: "replog.tls")
    ) throws -> TransportSecurity {
        var configuration = TLSConfiguration(
            certificateChainPath: certificatePath,
            privateKeyPath: keyPath,
            trustedCertificateAuthoritiesPath: caPath
        )
        configuration.allowedPeerRoles = allowedPeerRoles
        if allowTLS12 { configuration.minimumVersion = .tls12 }
        return .mutualTLS(try TLSContextProvider(configuration: configuration), logger: logger)
    }
}

/// Logs TLS refusals and failures of a connection as warnings (a plaintext client on a TLS port,
/// an unknown CA, a wrong role...), so operators see them without debug logging, and the
/// accepted peer at debug level.
final class TLSEventLogger: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let handshake = event as? TLSHandshakeCompleted {
            logger.debug(
                "TLS connection established",
                metadata: [
                    "net/peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "unknown")",
                    "tls/peer": "\(handshake.peer)", "tls/version": "\(handshake.protocolVersion)",
                    "tls/cipher": "\(handshake.cipherSuite)",
                ]
            )
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? TLSError {
            logger.warning(
                "TLS connection failed",
                metadata: [
                    "net/peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "unknown")",
                    "tls/reason": "\(error.reason)", "tls/error": "\(error)",
                ]
            )
        }
        context.fireErrorCaught(error)
    }
}
