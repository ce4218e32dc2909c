internal import COpenSSL
internal import CReplogOpenSSLShims
public import ReplogModel

#if canImport(Glibc)
    internal import Glibc
#endif

/// Makes the cluster CA and the certificates it issues, with libcrypto.
///
/// Every issued certificate names its role in a SAN URI `replog://role/<role>/<id>`; node
/// certificates are good for both server and client authentication (replicas dial each other),
/// client certificates for client authentication only.
public enum CertificateIssuer {
    /// A self-signed CA certificate for `key`.
    public static func makeCertificateAuthority(
        commonName: String,
        key: PrivateKey,
        notBefore: Int64,
        notAfter: Int64
    ) throws -> X509Certificate {
        let certificate = try makeSkeleton(commonName: commonName, key: key, notBefore: notBefore, notAfter: notAfter)
        X509_set_issuer_name(certificate.pointer, X509_get_subject_name(certificate.pointer))
        try addExtensions(
            to: certificate,
            issuer: certificate,
            [
                (NID_basic_constraints, "critical,CA:TRUE,pathlen:0"),
                (NID_key_usage, "critical,keyCertSign,cRLSign"),
                (NID_subject_key_identifier, "hash"),
                (NID_authority_key_identifier, "keyid:always"),
            ]
        )
        try sign(certificate, with: key)
        return certificate
    }

    /// A certificate for `role`/`id`, naming `hosts` (DNS names or IP addresses), signed by the CA.
    public static func issue(
        role: NodeRole,
        id: String,
        hosts: [String],
        key: PrivateKey,
        caCertificate: X509Certificate,
        caKey: PrivateKey,
        notBefore: Int64,
        notAfter: Int64
    ) throws -> X509Certificate {
        guard RoleURI.isValidID(id) else { throw CertificateError.invalidName(id) }
        let certificate = try makeSkeleton(
            commonName: "\(role)-\(id)",
            key: key,
            notBefore: notBefore,
            notAfter: notAfter
        )
        X509_set_issuer_name(certificate.pointer, X509_get_subject_name(caCertificate.pointer))
        var names = ["URI:\(RoleURI.make(role: role, id: id))"]
        for host in hosts {
            if HostName.isIPAddress(host) {
                names.append("IP:\(host)")
            } else if HostName.isDNSName(host) {
                names.append("DNS:\(host)")
            } else {
                throw CertificateError.invalidHost(host)
            }
        }
        let usage = role == .replica || role == .coordinator ? "serverAuth,clientAuth" : "clientAuth"
        try addExtensions(
            to: certificate,
            issuer: caCertificate,
            [
                (NID_basic_constraints, "critical,CA:FALSE"),
                (NID_key_usage, "critical,digitalSignature"),
                (NID_ext_key_usage, usage),
                (NID_subject_key_identifier, "hash"),
                (NID_authority_key_identifier, "keyid:always"),
                (NID_subject_alt_name, names.joined(separator: ",")),
            ]
        )
        try sign(certificate, with: caKey)
        return certificate
    }

    private static func makeSkeleton(
        commonName: String,
        key: PrivateKey,
        notBefore: Int64,
        notAfter: Int64
    ) throws -> X509Certificate {
        guard let raw = X509_new() else { throw CertificateError.openSSL("X509_new", OpenSSLErrorQueue.drain()) }
        let certificate = X509Certificate(taking: raw)
        let pointer = certificate.pointer
        X509_set_version(pointer, 2)
        // 63 random bits keep the serial positive and unique in practice.
        ASN1_INTEGER_set_uint64(X509_get_serialNumber(pointer), UInt64.random(in: 1...UInt64(Int64.max)))
        ASN1_TIME_set(X509_getm_notBefore(pointer), time_t(notBefore))
        ASN1_TIME_set(X509_getm_notAfter(pointer), time_t(notAfter))
        X509_set_pubkey(pointer, key.pointer)
        let name = X509_get_subject_name(pointer)
        for (field, value) in [("O", "replog"), ("CN", commonName)] {
            guard X509_NAME_add_entry_by_txt(name, field, replog_MBSTRING_UTF8, value, -1, -1, 0) == 1 else {
                throw CertificateError.openSSL("setting the subject \(field)=\(value)", OpenSSLErrorQueue.drain())
            }
        }
        return certificate
    }

    private static func addExtensions(
        to certificate: X509Certificate,
        issuer: X509Certificate,
        _ extensions: [(Int32, String)]
    ) throws {
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer.pointer, certificate.pointer, nil, nil, 0)
        for (nid, value) in extensions {
            guard let fresh = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
                throw CertificateError.openSSL("making extension \(value)", OpenSSLErrorQueue.drain())
            }
            defer { X509_EXTENSION_free(fresh) }
            guard X509_add_ext(certificate.pointer, fresh, -1) == 1 else {
                throw CertificateError.openSSL("adding extension \(value)", OpenSSLErrorQueue.drain())
            }
        }
    }

    private static func sign(_ certificate: X509Certificate, with key: PrivateKey) throws {
        guard X509_sign(certificate.pointer, key.pointer, EVP_sha256()) > 0 else {
            throw CertificateError.openSSL("signing the certificate", OpenSSLErrorQueue.drain())
        }
    }
}

/// Telling DNS names from IP addresses, as certificates and verification treat them differently.
public enum HostName {
    /// Whether `text` is an IPv4 or IPv6 address.
    public static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    /// Whether `text` is a plausible DNS name (labels of letters, digits and '-'; a leading `*.` allowed).
    public static func isDNSName(_ text: String) -> Bool {
        var labels = text.split(separator: ".", omittingEmptySubsequences: false)
        if labels.first == "*" { labels.removeFirst() }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
        return !labels.isEmpty && text.count <= 253
            && labels.allSatisfy { label in
                !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                    && label.allSatisfy(allowed.contains)
            }
    }
}
