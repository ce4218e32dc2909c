import ArgumentParser
import Logging
import ReplogClient
import ReplogModel
import ReplogNet
import ReplogNetTLS
import ReplogTLS

/// The options every command that talks to a running cluster shares. Each can also come from
/// `REPLOG_<NAME>` (for example `REPLOG_COORDINATOR`, `REPLOG_CERT`) or a `--config` file.
struct ClientOptions: ParsableArguments {
    @Option(
        name: .customLong("coordinator"),
        help: "Coordinator addresses, HOST:PORT[,HOST:PORT...]; any of them will do (env REPLOG_COORDINATOR)."
    )
    var coordinators: String?

    @Option(help: "This client's certificate, PEM (env REPLOG_CERT).")
    var cert: String?

    @Option(help: "This client's private key, PEM (env REPLOG_KEY).")
    var key: String?

    @Option(help: "The cluster's CA certificate, PEM (env REPLOG_CA).")
    var ca: String?

    @Flag(help: "Talk plaintext to a cluster started with --insecure (never in production).")
    var insecure = false

    @Flag(
        name: .customLong("allow-tls12"),
        help: "Also speak TLS 1.2 (TLS 1.3 only by default), for a cluster that allows it (env REPLOG_ALLOW_TLS12)."
    )
    var allowTLS12 = false

    @Option(help: "The cluster id to expect; learned from the coordinator when omitted.")
    var clusterID: String?

    @Option(help: "Seconds an operation may take, retries included.")
    var timeout: Double = 30

    @Option(help: "A file of 'name = value' lines setting any of these options (env REPLOG_CONFIG).")
    var config: String?

    /// Names of the options above, for environment variables and config files.
    static let optionNames = ["coordinator", "cert", "key", "ca", "cluster-id", "timeout"]
    static let flagNames = ["insecure", "allow-tls12"]

    func validate() throws {
        // Whether a coordinator is needed at all is the command's call (`read --path` needs none);
        // addresses that are given must parse.
        if coordinators != nil { _ = try endpoints() }
        if let clusterID, ClusterID(clusterID) == nil {
            throw ValidationError("--cluster-id '\(clusterID)' is not a UUID like 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func endpoints() throws -> [Endpoint] {
        guard let coordinators, !coordinators.isEmpty else {
            throw ValidationError("no coordinator given: pass --coordinator HOST:PORT or set REPLOG_COORDINATOR")
        }
        return try coordinators.split(separator: ",").map { text in
            guard let endpoint = Endpoint(String(text.filter { $0 != " " })) else {
                throw ValidationError("--coordinator '\(text)' is not HOST:PORT")
            }
            return endpoint
        }
    }

    /// A client for these options. `wholeTimeoutPerAttempt` lets one attempt of a request take the
    /// whole `--timeout`, for requests the coordinator answers only after long work.
    func makeClient(name: String = "replog-cli", wholeTimeoutPerAttempt: Bool = false) throws -> ReplogClient {
        var configuration = ClientConfiguration(
            coordinators: try endpoints(),
            clusterID: clusterID.flatMap(ClusterID.init) ?? .unknown,
            name: try certificateName() ?? name,
            security: try security()
        )
        configuration.operationTimeout = .milliseconds(Int64(timeout * 1000))
        if wholeTimeoutPerAttempt { configuration.requestTimeout = .milliseconds(Int64(timeout * 1000)) }
        var logger = Logger(label: "replog.cli")
        logger.logLevel = .warning
        return ReplogClient(configuration: configuration, logger: logger)
    }

    /// Over TLS the hello must name the client its certificate was made for, so the name comes from it.
    func certificateName() throws -> String? {
        guard !insecure, let cert else { return nil }
        do {
            return try X509Certificate.certificates(pemFile: cert).first?.role?.id
        } catch let error as CertificateError {
            throw ValidationError("--cert: \(error)")
        }
    }

    func security() throws -> TransportSecurity {
        if insecure {
            eprint(
                "WARNING: --insecure: talking plaintext without TLS; anyone on the network can read and forge this traffic"
            )
            return .plaintext
        }
        guard let cert, let key, let ca else {
            throw ValidationError(
                "TLS needs --cert, --key and --ca (files made by `replog certs create-client`); use --insecure"
                    + " only against a cluster started with --insecure"
            )
        }
        do {
            return try .mutualTLS(
                certificatePath: cert,
                keyPath: key,
                caPath: ca,
                allowedPeerRoles: [.coordinator, .replica],
                allowTLS12: allowTLS12
            )
        } catch let error as TLSError {
            throw ValidationError("\(error)")
        }
    }
}
