import ArgumentParser
import ReplogModel
import ReplogTLS

/// `replog certs ...`: the cluster CA and the certificates that carry each process's role.
struct Certs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create and inspect the cluster's TLS certificates.",
        discussion: """
            Files go to one directory: ca.pem/ca.key, and <role>-<id>.pem/.key per node or client. \
            Keys are written with mode 0600 and are never overwritten without --force. Errors print \
            what to do and exit with status 1.
            """,
        subcommands: [CreateCA.self, CreateNode.self, CreateClient.self, Show.self]
    )

    struct CreateCA: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-ca",
            abstract: "Create the cluster CA (ca.key and ca.pem)."
        )

        @Option(help: "Directory for the certificate files.") var dir: String
        @Option(help: "Validity in days.") var days: Int = 3650
        @Option(help: "Common name of the CA.") var name: String = "replog cluster CA"
        @Flag(help: "Replace an existing CA key and certificate.") var force = false

        func run() throws {
            let directory = CertificateDirectory(path: dir)
            let certificate = try directory.createCertificateAuthority(
                commonName: name,
                validDays: days,
                now: UTCTime.now(),
                force: force
            )
            print("wrote \(directory.caKeyPath) (mode 0600) and \(directory.caCertificatePath)")
            print(CertificateSummary(certificate, now: UTCTime.now()))
        }
    }

    struct CreateNode: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-node",
            abstract: "Create a replica or coordinator key and certificate signed by the CA."
        )

        @Option(help: "Directory holding the CA; the files are written there.") var dir: String
        @Option(help: "replica or coordinator.") var role: String
        @Option(help: "Node id (letters, digits, '-', '_', '.').") var id: String
        @Option(help: "A DNS name or IP address peers dial this node by (repeatable).") var host: [String] = []
        @Option(help: "Validity in days.") var days: Int = 365
        @Flag(help: "Replace an existing key and certificate.") var force = false

        func validate() throws {
            guard role == "replica" || role == "coordinator" else {
                throw ValidationError("--role must be replica or coordinator (use create-client for clients)")
            }
            guard !host.isEmpty else {
                throw ValidationError("give at least one --host: the DNS name or IP address peers dial this node by")
            }
        }

        func run() throws {
            let directory = CertificateDirectory(path: dir)
            let nodeRole: NodeRole = role == "replica" ? .replica : .coordinator
            let certificate = try directory.createCertificate(
                role: nodeRole,
                id: id,
                hosts: host,
                validDays: days,
                now: UTCTime.now(),
                force: force
            )
            print(
                "wrote \(directory.keyPath(role: nodeRole, id: id)) (mode 0600) and "
                    + directory.certificatePath(role: nodeRole, id: id)
            )
            print(CertificateSummary(certificate, now: UTCTime.now()))
        }
    }

    struct CreateClient: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-client",
            abstract: "Create a client (or operator tool) key and certificate signed by the CA."
        )

        @Option(help: "Directory holding the CA; the files are written there.") var dir: String
        @Option(help: "Client name (letters, digits, '-', '_', '.').") var name: String
        @Flag(help: "Make an operator tool certificate (role tool) instead of a client one.") var tool = false
        @Option(help: "Validity in days.") var days: Int = 365
        @Flag(help: "Replace an existing key and certificate.") var force = false

        func run() throws {
            let directory = CertificateDirectory(path: dir)
            let clientRole: NodeRole = tool ? .tool : .client
            let certificate = try directory.createCertificate(
                role: clientRole,
                id: name,
                hosts: [],
                validDays: days,
                now: UTCTime.now(),
                force: force
            )
            print(
                "wrote \(directory.keyPath(role: clientRole, id: name)) (mode 0600) and "
                    + directory.certificatePath(role: clientRole, id: name)
            )
            print(CertificateSummary(certificate, now: UTCTime.now()))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a certificate's subject, SANs, role and validity, warning when expiry is near."
        )

        @Argument(help: "A PEM certificate file.") var file: String
        @Option(help: "Warn when fewer than this many days of validity remain.") var warnDays: Int = 30

        func run() throws {
            let certificates = try X509Certificate.certificates(pemFile: file)
            for (index, certificate) in certificates.enumerated() {
                if certificates.count > 1 { print("certificate \(index + 1) of \(certificates.count):") }
                print(CertificateSummary(certificate, now: UTCTime.now(), warningDays: warnDays))
            }
        }
    }
}
