/// Errors of making, reading and writing certificates and keys.
public enum CertificateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A file that would be overwritten exists; `--force` replaces it.
    case fileExists(path: String)
    /// A file could not be read or written.
    case io(path: String, operation: String, errno: Int32)
    /// A PEM file holds no certificate.
    case noCertificate(path: String)
    /// The CA files a command needs are missing.
    case missingCertificateAuthority(directory: String)
    /// An id or name that cannot stand in a role URI and a file name.
    case invalidName(String)
    /// A node certificate needs at least one host name or IP address.
    case noHosts
    /// A host that is neither a DNS name nor an IP address.
    case invalidHost(String)
    /// OpenSSL failed while doing `operation`.
    case openSSL(String, [OpenSSLErrorEntry])

    public var description: String {
        switch self {
        case .fileExists(let path):
            return "\(path) already exists; refusing to overwrite it (pass --force to replace it)"
        case .io(let path, let operation, let code):
            return "cannot \(operation) \(path): \(FileIO.errorText(code))"
        case .noCertificate(let path):
            return "\(path) holds no PEM certificate"
        case .missingCertificateAuthority(let directory):
            return "\(directory) holds no CA (ca.pem and ca.key); run `replog certs create-ca --dir \(directory)` first"
        case .invalidName(let name):
            return "invalid id or name \"\(name)\": use 1 to 64 letters, digits, '-', '_' or '.'"
        case .noHosts:
            return "a node certificate needs at least one --host (the DNS name or IP address peers dial)"
        case .invalidHost(let host):
            return "invalid --host \"\(host)\": give a DNS name (letters, digits, '-', '.') or an IP address"
        case .openSSL(let operation, let entries):
            return "OpenSSL failed \(operation): \(OpenSSLErrorQueue.text(entries))"
        }
    }
}
