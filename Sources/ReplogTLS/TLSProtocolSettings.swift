internal import COpenSSL
internal import CReplogOpenSSLShims

extension TLSConfiguration {
    /// Checks the protocol settings (versions, cipher suites, groups) without loading any file,
    /// so that a command can refuse a bad flag before it starts anything.
    ///
    /// Stricter than OpenSSL: OpenSSL skips the names it does not know as long as one name in a
    /// list is valid, which would hide a typo; here every name must be one it knows. Throws
    /// ``TLSError/invalidConfiguration(_:openSSL:)`` naming the bad entry.
    public func checkProtocolSettings() throws {
        OpenSSLErrorQueue.clear()
        guard let context = SSL_CTX_new(TLS_method()) else {
            throw TLSError.invalidConfiguration("cannot create an SSL_CTX", openSSL: OpenSSLErrorQueue.drain())
        }
        defer { SSL_CTX_free(context) }
        try TLSProtocolSettings.apply(self, to: context)
        OpenSSLErrorQueue.clear()
    }
}

/// The settings of an `SSL_CTX` that do not depend on certificates: versions, options, cipher
/// suites and groups.
enum TLSProtocolSettings {
    static func apply(_ configuration: TLSConfiguration, to context: OpaquePointer) throws {
        func check(_ ok: Bool, _ what: @autoclosure () -> String) throws {
            if !ok { throw TLSError.invalidConfiguration(what(), openSSL: OpenSSLErrorQueue.drain()) }
        }
        let minimum = configuration.minimumVersion == .tls13 ? replog_TLS1_3_VERSION : replog_TLS1_2_VERSION
        try check(replog_SSL_CTX_set_min_proto_version(context, minimum) == 1, "setting the minimum TLS version")
        let maximum = configuration.maximumVersion == .tls13 ? replog_TLS1_3_VERSION : replog_TLS1_2_VERSION
        try check(replog_SSL_CTX_set_max_proto_version(context, maximum) == 1, "setting the maximum TLS version")
        _ = replog_SSL_CTX_set_options(
            context,
            replog_SSL_OP_NO_COMPRESSION | replog_SSL_OP_NO_RENEGOTIATION | replog_SSL_OP_CIPHER_SERVER_PREFERENCE
        )
        _ = replog_SSL_CTX_set_mode(context, replog_SSL_MODE_AUTO_RETRY)
        // Tickets would be sent after every handshake and never used: connections are long-lived.
        SSL_CTX_set_num_tickets(context, 0)
        if let suites = configuration.tls13CipherSuites {
            for name in try entries(suites, "TLS 1.3 cipher suites") where SSL_CTX_set_ciphersuites(context, name) != 1
            {
                throw TLSError.invalidConfiguration(
                    "unknown TLS 1.3 cipher suite \"\(name)\" in \"\(suites)\"; use the names `openssl ciphers -s "
                        + "-tls1_3` prints, such as TLS_AES_256_GCM_SHA384 or TLS_CHACHA20_POLY1305_SHA256",
                    openSSL: OpenSSLErrorQueue.drain()
                )
            }
            try check(SSL_CTX_set_ciphersuites(context, suites) == 1, "TLS 1.3 cipher suites \"\(suites)\"")
        }
        let list = configuration.tls12CipherList
        // Elements that remove, move or sort ciphers ("!aNULL", "-RSA", "+AES", "@STRENGTH") may
        // legitimately match nothing; every other element must match a cipher.
        for element in try entries(list, "TLS 1.2 cipher list")
        where !"!-+@".contains(element.first!) && SSL_CTX_set_cipher_list(context, element) != 1 {
            throw TLSError.invalidConfiguration(
                "\"\(element)\" in the TLS 1.2 cipher list \"\(list)\" matches no cipher; use OpenSSL's cipher list "
                    + "syntax (check it with `openssl ciphers -v 'LIST'`), such as ECDHE+AESGCM:ECDHE+CHACHA20",
                openSSL: OpenSSLErrorQueue.drain()
            )
        }
        try check(SSL_CTX_set_cipher_list(context, list) == 1, "TLS 1.2 cipher list \"\(list)\"")
        if let groups = configuration.groups {
            for name in try entries(groups, "key exchange groups")
            where replog_SSL_CTX_set1_groups_list(context, name) != 1 {
                throw TLSError.invalidConfiguration(
                    "unknown key exchange group \"\(name)\" in \"\(groups)\"; use names such as X25519, P-256, P-384",
                    openSSL: OpenSSLErrorQueue.drain()
                )
            }
            try check(replog_SSL_CTX_set1_groups_list(context, groups) == 1, "groups \"\(groups)\"")
        }
    }

    /// The colon-separated names of `list`; an empty list or name is refused.
    private static func entries(_ list: String, _ what: String) throws -> [String] {
        let names = list.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard !names.contains(where: \.isEmpty) else {
            throw TLSError.invalidConfiguration(
                "the \(what) \"\(list)\" has an empty entry; give names separated by ':'",
                openSSL: []
            )
        }
        return names
    }
}
