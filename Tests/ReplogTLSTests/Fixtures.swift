import Foundation
import NIOCore
import ReplogModel
import ReplogTLS

/// A temporary directory with a cluster CA and certificates made by our own `CertificateDirectory`,
/// plus a second, unrelated CA; removed when the fixture is released.
final class CertificateFixture: @unchecked Sendable {
    let root: String
    let cluster: CertificateDirectory
    let other: CertificateDirectory
    let now = UTCTime.now()

    init() throws {
        root = NSTemporaryDirectory() + "replog-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        cluster = CertificateDirectory(path: root + "/cluster")
        other = CertificateDirectory(path: root + "/other")
        try cluster.createCertificateAuthority(now: now)
        try other.createCertificateAuthority(now: now)
        try cluster.createCertificate(role: .replica, id: "r1", hosts: ["localhost", "127.0.0.1", "::1"], now: now)
        try cluster.createCertificate(role: .coordinator, id: "c1", hosts: ["localhost", "127.0.0.1"], now: now)
        try cluster.createCertificate(role: .client, id: "alice", hosts: [], now: now)
        try other.createCertificate(role: .client, id: "mallory", hosts: [], now: now)
        try other.createCertificate(role: .replica, id: "r9", hosts: ["127.0.0.1"], now: now)
        try cluster.createCertificate(
            role: .client,
            id: "expired",
            hosts: [],
            now: now,
            notBefore: now - 10 * 86_400,
            notAfter: now - 86_400
        )
        try cluster.createCertificate(
            role: .client,
            id: "future",
            hosts: [],
            now: now,
            notBefore: now + 86_400,
            notAfter: now + 10 * 86_400
        )
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// The configuration of `role`/`id` in `directory`, trusting `directory`'s CA.
    func configuration(
        _ role: NodeRole,
        _ id: String,
        in directory: CertificateDirectory? = nil,
        allowed: Set<NodeRole> = Set(NodeRole.allCases)
    ) -> TLSConfiguration {
        var configuration = TLSConfiguration(directory: directory ?? cluster, role: role, id: id)
        configuration.allowedPeerRoles = allowed
        return configuration
    }

    func provider(_ configuration: TLSConfiguration) throws -> TLSContextProvider {
        try TLSContextProvider(configuration: configuration)
    }
}

/// Records what reaches the end of a pipeline behind the TLS handler (EmbeddedChannel use only).
final class Recorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    var received = ByteBuffer()
    var reads: [ByteBuffer] = []
    var errors: [any Error] = []
    var handshake: TLSHandshakeCompleted?
    var inactive = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        reads.append(buffer)
        received.writeBuffer(&buffer)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSHandshakeCompleted { handshake = event }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { errors.append(error) }

    func channelInactive(context: ChannelHandlerContext) { inactive = true }

    var tlsErrors: [TLSError] { errors.compactMap { $0 as? TLSError } }
    var text: String { String(buffer: received) }
}
