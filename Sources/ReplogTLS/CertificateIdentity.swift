public import ReplogModel

/// Who the peer of a TLS connection is, read from its verified certificate after the handshake.
///
/// The role comes from a SAN URI `replog://role/<replica|coordinator|client|tool>/<id>`, which
/// `replog certs` writes into every certificate it makes.
public struct CertificateIdentity: Sendable, Hashable, CustomStringConvertible {
    /// The role the cluster CA granted this certificate.
    public var role: NodeRole
    /// The node id or client name from the role URI.
    public var id: String
    /// The certificate subject, one line (`CN=...`).
    public var subject: String
    /// DNS names in the subject alternative names.
    public var dnsNames: [String]
    /// IP addresses in the subject alternative names, in text form.
    public var ipAddresses: [String]

    public init(role: NodeRole, id: String, subject: String, dnsNames: [String] = [], ipAddresses: [String] = []) {
        self.role = role
        self.id = id
        self.subject = subject
        self.dnsNames = dnsNames
        self.ipAddresses = ipAddresses
    }

    public var description: String { "\(role)/\(id) (\(subject))" }
}

/// The `replog://role/<role>/<id>` URI that carries a role in a certificate.
public enum RoleURI {
    static let prefix = "replog://role/"

    /// The URI for a role and id.
    public static func make(role: NodeRole, id: String) -> String { "\(prefix)\(role)/\(id)" }

    /// Parses a role URI; nil when it is not one.
    public static func parse(_ uri: String) -> (role: NodeRole, id: String)? {
        guard uri.hasPrefix(prefix) else { return nil }
        let rest = uri.dropFirst(prefix.count)
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        let roleName = rest[..<slash]
        let id = rest[rest.index(after: slash)...]
        guard !id.isEmpty, let role = NodeRole.allCases.first(where: { $0.description == roleName }) else {
            return nil
        }
        return (role, String(id))
    }

    /// Whether `id` can stand in a role URI and a file name: letters, digits, `-`, `_` and `.`.
    public static func isValidID(_ id: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        return !id.isEmpty && id.count <= 64 && id != "." && id != ".." && id.allSatisfy(allowed.contains)
    }
}
