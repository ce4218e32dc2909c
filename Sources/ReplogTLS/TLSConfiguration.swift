public import CoreMetrics
public import NIOCore
public import ReplogModel

/// How an endpoint speaks TLS. Mutual TLS with TLS 1.3 is the default; every field is documented
/// with the reason for its default.
public struct TLSConfiguration: Sendable {
    /// The lowest protocol version accepted.
    public enum ProtocolVersion: Sendable, Hashable {
        case tls12
        case tls13
    }

    /// PEM file with our certificate (and any intermediates after it).
    public var certificateChainPath: String
    /// PEM file with our private key.
    public var privateKeyPath: String
    /// PEM file with the CA certificates we trust for peers (the cluster CA).
    public var trustedCertificateAuthoritiesPath: String
    /// TLS 1.3 only by default; `.tls12` admits TLS 1.2 peers too (the `--allow-tls12` flag).
    public var minimumVersion: ProtocolVersion = .tls13
    /// The highest protocol version offered; TLS 1.3 unless a test or an old peer needs less.
    public var maximumVersion: ProtocolVersion = .tls13
    /// TLS 1.3 cipher suites in OpenSSL's syntax (`SSL_CTX_set_ciphersuites`); nil keeps OpenSSL's.
    public var tls13CipherSuites: String? = nil
    /// TLS 1.2 cipher list in OpenSSL's syntax; the default keeps only forward-secret AEAD suites.
    public var tls12CipherList: String = "ECDHE+AESGCM:ECDHE+CHACHA20"
    /// Key exchange groups (`SSL_CTX_set1_groups_list`); nil keeps OpenSSL's.
    public var groups: String? = nil
    /// Whether the peer must present a certificate from our CA. On for every replog endpoint:
    /// turning it off is only for tests of the refusal itself.
    public var requirePeerCertificate: Bool = true
    /// The roles (from the peer's `replog://role/...` SAN URI) this endpoint accepts.
    public var allowedPeerRoles: Set<NodeRole> = Set(NodeRole.allCases)
    /// How long we wait for the peer's close_notify after sending ours before closing anyway.
    public var shutdownTimeout: TimeAmount = .seconds(5)
    /// Where `replog_tls_errors_total{reason}` is counted; nil uses the bootstrapped
    /// `MetricsSystem` (a test passes its own factory instead of bootstrapping globally).
    public var metricsFactory: (any MetricsFactory)? = nil

    public init(certificateChainPath: String, privateKeyPath: String, trustedCertificateAuthoritiesPath: String) {
        self.certificateChainPath = certificateChainPath
        self.privateKeyPath = privateKeyPath
        self.trustedCertificateAuthoritiesPath = trustedCertificateAuthoritiesPath
    }

    /// The configuration for the files `replog certs` made in `directory` for `role`/`id`.
    public init(directory: CertificateDirectory, role: NodeRole, id: String) {
        self.init(
            certificateChainPath: directory.certificatePath(role: role, id: id),
            privateKeyPath: directory.keyPath(role: role, id: id),
            trustedCertificateAuthoritiesPath: directory.caCertificatePath
        )
    }
}
