internal import COpenSSL
internal import CReplogOpenSSLShims
internal import NIOConcurrencyHelpers

/// An OpenSSL `SSL_CTX` built from a ``TLSConfiguration``: our certificate and key, the trusted
/// CAs and the protocol settings. It is only read after it is built, so connections on any thread
/// may be made from it.
public final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer
    /// The configuration it was built from.
    public let configuration: TLSConfiguration

    /// Loads the files named by `configuration` and checks that key and certificate match.
    public init(configuration: TLSConfiguration) throws {
        OpenSSLErrorQueue.clear()
        guard let context = SSL_CTX_new(TLS_method()) else {
            throw TLSError.invalidConfiguration("cannot create an SSL_CTX", openSSL: OpenSSLErrorQueue.drain())
        }
        self.pointer = context
        self.configuration = configuration
        try configure()
    }

    deinit { SSL_CTX_free(pointer) }

    private func configure() throws {
        func check(_ ok: Bool, _ what: @autoclosure () -> String) throws {
            if !ok { throw TLSError.invalidConfiguration(what(), openSSL: OpenSSLErrorQueue.drain()) }
        }
        let configuration = self.configuration
        try TLSProtocolSettings.apply(configuration, to: pointer)
        try check(
            SSL_CTX_use_certificate_chain_file(pointer, configuration.certificateChainPath) == 1,
            "cannot load the certificate chain \(configuration.certificateChainPath)"
        )
        try check(
            SSL_CTX_use_PrivateKey_file(pointer, configuration.privateKeyPath, SSL_FILETYPE_PEM) == 1,
            "cannot load the private key \(configuration.privateKeyPath)"
        )
        try check(
            SSL_CTX_check_private_key(pointer) == 1,
            "the private key \(configuration.privateKeyPath) does not match the certificate "
                + configuration.certificateChainPath
        )
        let caPath = configuration.trustedCertificateAuthoritiesPath
        try check(SSL_CTX_load_verify_locations(pointer, caPath, nil) == 1, "cannot load the trusted CAs \(caPath)")
        // Tell clients which CA we want their certificate from (openssl s_client uses it).
        if let names = SSL_load_client_CA_file(caPath) {
            SSL_CTX_set_client_CA_list(pointer, names)
        }
        let mode =
            configuration.requirePeerCertificate ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_NONE
        SSL_CTX_set_verify(pointer, mode, nil)
        OpenSSLErrorQueue.clear()
    }
}

/// Hands out the current ``TLSContext`` and replaces it when the files change, so that certificate
/// and CA rotation needs no restart: connections already open keep the material they were made
/// with, new connections get the new one.
public final class TLSContextProvider: Sendable {
    private struct State {
        var context: TLSContext
        var stamps: [FileStamp?]
    }

    private struct FileStamp: Equatable {
        var seconds: Int
        var nanoseconds: Int
        var inode: Int
    }

    private let state: NIOLockedValueBox<State>
    /// The configuration whose files are (re)loaded.
    public let configuration: TLSConfiguration

    public init(configuration: TLSConfiguration) throws {
        self.configuration = configuration
        let stamps = Self.stamps(configuration)
        state = NIOLockedValueBox(State(context: try TLSContext(configuration: configuration), stamps: stamps))
    }

    /// The context new connections use.
    public var current: TLSContext { state.withLockedValue { $0.context } }

    /// Rebuilds the context from the files. On failure the old context stays in use and the error
    /// is thrown, so a half-rotated set of files never takes a node down.
    public func reload() throws {
        let stamps = Self.stamps(configuration)
        let context = try TLSContext(configuration: configuration)
        state.withLockedValue { $0 = State(context: context, stamps: stamps) }
    }

    /// Reloads when a file changed since the last load (a periodic check), or always with `force`
    /// (SIGHUP); returns whether it did.
    @discardableResult
    public func reloadIfChanged(force: Bool = false) throws -> Bool {
        let stamps = Self.stamps(configuration)
        guard force || state.withLockedValue({ $0.stamps != stamps }) else { return false }
        try reload()
        return true
    }

    private static func stamps(_ configuration: TLSConfiguration) -> [FileStamp?] {
        [
            configuration.certificateChainPath, configuration.privateKeyPath,
            configuration.trustedCertificateAuthoritiesPath,
        ].map { path in
            FileIO.modificationStamp(path).map { FileStamp(seconds: $0.0, nanoseconds: $0.1, inode: $0.2) }
        }
    }
}
