internal import COpenSSL
internal import CReplogOpenSSLShims
public import ReplogModel

#if canImport(Glibc)
    internal import Glibc
#endif

/// One subject alternative name of a certificate.
public enum SubjectAlternativeName: Sendable, Hashable, CustomStringConvertible {
    case dns(String)
    case ipAddress(String)
    case uri(String)
    case other(type: Int32)

    public var description: String {
        switch self {
        case .dns(let name): "DNS:\(name)"
        case .ipAddress(let address): "IP:\(address)"
        case .uri(let uri): "URI:\(uri)"
        case .other(let type): "other(\(type))"
        }
    }
}

/// An X.509 certificate held by OpenSSL. Immutable once made, so it may be shared across threads.
public final class X509Certificate: @unchecked Sendable {
    /// The `X509*`, owned by this object.
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    deinit { X509_free(pointer) }

    /// Every certificate in a PEM text, in order.
    public static func certificates(pem: String) throws -> [X509Certificate] {
        let bio = try MemoryBIO(bytes: Array(pem.utf8))
        var certificates: [X509Certificate] = []
        while let certificate = PEM_read_bio_X509(bio.pointer, nil, nil, nil) {
            certificates.append(X509Certificate(taking: certificate))
        }
        // The loop ends on "no start line", which is how the end of the text shows.
        OpenSSLErrorQueue.clear()
        return certificates
    }

    /// Every certificate in a PEM file; throws when the file holds none.
    public static func certificates(pemFile path: String) throws -> [X509Certificate] {
        let text = try FileIO.readText(path)
        let certificates = try certificates(pem: text)
        guard !certificates.isEmpty else {
            throw CertificateError.noCertificate(path: path)
        }
        return certificates
    }

    /// The certificate in PEM form.
    public var pem: String {
        let bio = MemoryBIO()
        PEM_write_bio_X509(bio.pointer, pointer)
        return bio.string()
    }

    /// The subject on one line, for example `CN = replica-1, O = replog`.
    public var subject: String { Self.nameText(X509_get_subject_name(pointer)) }

    /// The issuer on one line.
    public var issuer: String { Self.nameText(X509_get_issuer_name(pointer)) }

    /// Start of validity, seconds since the Unix epoch.
    public var notBefore: Int64 { Self.seconds(X509_get0_notBefore(pointer)) }

    /// End of validity, seconds since the Unix epoch.
    public var notAfter: Int64 { Self.seconds(X509_get0_notAfter(pointer)) }

    /// Whether the certificate may sign other certificates.
    public var isCertificateAuthority: Bool { X509_check_ca(pointer) != 0 }

    /// The subject alternative names, in certificate order.
    public var subjectAlternativeNames: [SubjectAlternativeName] {
        guard let raw = X509_get_ext_d2i(pointer, NID_subject_alt_name, nil, nil) else { return [] }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        var result: [SubjectAlternativeName] = []
        for index in 0..<replog_general_names_count(names) {
            guard let name = replog_general_names_value(names, index) else { continue }
            var data: UnsafePointer<UInt8>? = nil
            var length: Int32 = 0
            let type = replog_general_name_get(name, &data, &length)
            let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: Int(length))) } ?? []
            switch type {
            case replog_GEN_DNS: result.append(.dns(String(decoding: bytes, as: UTF8.self)))
            case replog_GEN_URI: result.append(.uri(String(decoding: bytes, as: UTF8.self)))
            case replog_GEN_IPADD: result.append(.ipAddress(Self.ipText(bytes)))
            default: result.append(.other(type: type))
            }
        }
        return result
    }

    /// The role and id from the first `replog://role/...` URI, if any.
    public var role: (role: NodeRole, id: String)? {
        for case .uri(let uri) in subjectAlternativeNames {
            if let parsed = RoleURI.parse(uri) { return parsed }
        }
        return nil
    }

    /// The identity a verified peer presenting this certificate has, or nil without a role URI.
    public var peerIdentity: CertificateIdentity? {
        guard let role else { return nil }
        let names = subjectAlternativeNames
        return CertificateIdentity(
            role: role.role,
            id: role.id,
            subject: subject,
            dnsNames: names.compactMap { if case .dns(let name) = $0 { name } else { nil } },
            ipAddresses: names.compactMap { if case .ipAddress(let address) = $0 { address } else { nil } }
        )
    }

    static func nameText(_ name: OpaquePointer?) -> String {
        guard let name else { return "" }
        let bio = MemoryBIO()
        X509_NAME_print_ex(bio.pointer, name, 0, replog_XN_FLAG_ONELINE)
        return bio.string()
    }

    static func seconds(_ time: UnsafePointer<ASN1_TIME>?) -> Int64 {
        guard let time else { return 0 }
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else { return 0 }
        return Int64(timegm(&parts))
    }

    static func ipText(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        guard bytes.count == 16 else { return bytes.map { String($0, radix: 16) }.joined(separator: ":") }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        _ = bytes.withUnsafeBytes { inet_ntop(AF_INET6, $0.baseAddress, &text, socklen_t(text.count)) }
        return text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

/// A private key held by OpenSSL. Immutable once made.
public final class PrivateKey: @unchecked Sendable {
    /// The `EVP_PKEY*`, owned by this object.
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    /// A new ECDSA P-256 key.
    public static func generateP256() throws -> PrivateKey {
        guard let key = replog_generate_p256_key() else {
            throw CertificateError.openSSL("generating a P-256 key", OpenSSLErrorQueue.drain())
        }
        return PrivateKey(taking: key)
    }

    /// The key in a PEM text.
    public convenience init(pem: String) throws {
        let bio = try MemoryBIO(bytes: Array(pem.utf8))
        guard let key = PEM_read_bio_PrivateKey(bio.pointer, nil, nil, nil) else {
            throw CertificateError.openSSL("reading a PEM private key", OpenSSLErrorQueue.drain())
        }
        self.init(taking: key)
    }

    /// The key in a PEM file.
    public convenience init(pemFile path: String) throws {
        do {
            try self.init(pem: try FileIO.readText(path))
        } catch CertificateError.openSSL(_, let entries) {
            throw CertificateError.openSSL("reading the private key \(path)", entries)
        }
    }

    /// The key in unencrypted PKCS#8 PEM form.
    public var pem: String {
        let bio = MemoryBIO()
        PEM_write_bio_PrivateKey(bio.pointer, pointer, nil, nil, 0, nil, nil)
        return bio.string()
    }
}

/// A memory BIO owned by Swift, for PEM conversion.
final class MemoryBIO {
    let pointer: OpaquePointer

    init() { pointer = BIO_new(BIO_s_mem())! }

    convenience init(bytes: [UInt8]) throws {
        self.init()
        let written = bytes.withUnsafeBytes { BIO_write(pointer, $0.baseAddress, Int32($0.count)) }
        guard written == bytes.count || bytes.isEmpty else {
            throw CertificateError.openSSL("buffering PEM text", OpenSSLErrorQueue.drain())
        }
    }

    deinit { BIO_free(pointer) }

    func string() -> String {
        var memory: UnsafeMutablePointer<BUF_MEM>? = nil
        replog_BIO_get_mem_ptr(pointer, &memory)
        guard let memory, let data = memory.pointee.data else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: memory.pointee.length), as: UTF8.self)
    }
}
