public import ReplogModel

/// The files of a cluster's certificates in one directory, as `replog certs` writes them:
/// `ca.pem`/`ca.key`, and `<role>-<id>.pem`/`<role>-<id>.key` per node or client.
/// Keys are written with mode 0600, certificates 0644, each through a rename.
public struct CertificateDirectory: Sendable {
    /// The directory.
    public var path: String

    public init(path: String) { self.path = path }

    /// The CA certificate file.
    public var caCertificatePath: String { path + "/ca.pem" }
    /// The CA key file.
    public var caKeyPath: String { path + "/ca.key" }

    /// The certificate file of `role`/`id`.
    public func certificatePath(role: NodeRole, id: String) -> String { path + "/\(role)-\(id).pem" }
    /// The key file of `role`/`id`.
    public func keyPath(role: NodeRole, id: String) -> String { path + "/\(role)-\(id).key" }

    /// Creates the CA key and self-signed certificate; refuses to replace an existing key unless `force`.
    @discardableResult
    public func createCertificateAuthority(
        commonName: String = "replog cluster CA",
        validDays: Int = 3650,
        now: Int64,
        force: Bool = false
    ) throws -> X509Certificate {
        try refuseOverwrite([caKeyPath, caCertificatePath], force: force)
        try FileIO.makeDirectory(path)
        let key = try PrivateKey.generateP256()
        let certificate = try CertificateIssuer.makeCertificateAuthority(
            commonName: commonName,
            key: key,
            notBefore: now - 300,
            notAfter: now + Int64(validDays) * 86_400
        )
        try FileIO.writeAtomically(key.pem, to: caKeyPath, mode: 0o600)
        try FileIO.writeAtomically(certificate.pem, to: caCertificatePath, mode: 0o644)
        return certificate
    }

    /// Creates a key and a CA-signed certificate for `role`/`id` naming `hosts`.
    ///
    /// `notBefore`/`notAfter` default to five minutes ago (clock skew) and `validDays` from now.
    @discardableResult
    public func createCertificate(
        role: NodeRole,
        id: String,
        hosts: [String],
        validDays: Int = 365,
        now: Int64,
        notBefore: Int64? = nil,
        notAfter: Int64? = nil,
        force: Bool = false
    ) throws -> X509Certificate {
        guard RoleURI.isValidID(id) else { throw CertificateError.invalidName(id) }
        if role == .replica || role == .coordinator, hosts.isEmpty { throw CertificateError.noHosts }
        guard FileIO.exists(caKeyPath), FileIO.exists(caCertificatePath) else {
            throw CertificateError.missingCertificateAuthority(directory: path)
        }
        let keyFile = keyPath(role: role, id: id)
        let certificateFile = certificatePath(role: role, id: id)
        try refuseOverwrite([keyFile, certificateFile], force: force)
        let caKey = try PrivateKey(pemFile: caKeyPath)
        let caCertificate = try X509Certificate.certificates(pemFile: caCertificatePath)[0]
        let key = try PrivateKey.generateP256()
        let certificate = try CertificateIssuer.issue(
            role: role,
            id: id,
            hosts: hosts,
            key: key,
            caCertificate: caCertificate,
            caKey: caKey,
            notBefore: notBefore ?? now - 300,
            notAfter: notAfter ?? now + Int64(validDays) * 86_400
        )
        try FileIO.writeAtomically(key.pem, to: keyFile, mode: 0o600)
        try FileIO.writeAtomically(certificate.pem, to: certificateFile, mode: 0o644)
        return certificate
    }

    private func refuseOverwrite(_ paths: [String], force: Bool) throws {
        guard !force else { return }
        for path in paths where FileIO.exists(path) {
            throw CertificateError.fileExists(path: path)
        }
    }
}

/// A human-readable summary of a certificate, as `replog certs show` prints it.
public struct CertificateSummary: Sendable, CustomStringConvertible {
    public var subject: String
    public var issuer: String
    public var subjectAlternativeNames: [SubjectAlternativeName]
    public var role: String
    public var notBefore: Int64
    public var notAfter: Int64
    public var isCertificateAuthority: Bool
    /// Seconds until expiry (negative once expired).
    public var secondsLeft: Int64
    /// Set when the certificate expired or expires within the warning window.
    public var warning: String?

    /// Summarises `certificate` at `now`, warning when fewer than `warningDays` days remain.
    public init(_ certificate: X509Certificate, now: Int64, warningDays: Int = 30) {
        subject = certificate.subject
        issuer = certificate.issuer
        subjectAlternativeNames = certificate.subjectAlternativeNames
        isCertificateAuthority = certificate.isCertificateAuthority
        if let role = certificate.role {
            self.role = "\(role.role) (id \(role.id))"
        } else {
            role = isCertificateAuthority ? "certificate authority" : "none (no replog://role/ URI)"
        }
        notBefore = certificate.notBefore
        notAfter = certificate.notAfter
        secondsLeft = notAfter - now
        if secondsLeft <= 0 {
            warning = "WARNING: this certificate has EXPIRED; make a new one with `replog certs`"
        } else if notBefore > now {
            warning = "WARNING: this certificate is not valid yet (check the clocks)"
        } else if secondsLeft < Int64(warningDays) * 86_400 {
            warning = "WARNING: this certificate expires in \(secondsLeft / 86_400) days; renew it"
        }
    }

    public var description: String {
        var lines = [
            "subject:  \(subject)",
            "issuer:   \(issuer)",
            "role:     \(role)",
            "SANs:     \(subjectAlternativeNames.isEmpty ? "none" : subjectAlternativeNames.map(\.description).joined(separator: ", "))",
            "valid:    \(UTCTime.format(notBefore)) to \(UTCTime.format(notAfter))",
            "expires:  in \(secondsLeft / 86_400) days",
        ]
        if let warning { lines.append(warning) }
        return lines.joined(separator: "\n")
    }
}
