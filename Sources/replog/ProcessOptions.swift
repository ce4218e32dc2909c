import ArgumentParser
import Logging
import NIOPosix
import Prometheus
import ReplogAdmin
import ReplogConsensus
import ReplogModel
import ReplogNet
import ReplogNetTLS
import ReplogObservability
import ReplogTLS

#if canImport(Glibc)
    import Glibc
#endif

/// The options the long-running processes (`replog replica`, `replog coordinator`) share: the
/// cluster, TLS material, the admin endpoint and logging.
struct ProcessOptions: ParsableArguments {
    @Option(help: "The cluster's id (a UUID).")
    var clusterID: String

    @Option(help: "This process's certificate, PEM (from `replog certs create-node`).")
    var cert: String?

    @Option(help: "This process's private key, PEM.")
    var key: String?

    @Option(help: "The cluster's CA certificate, PEM.")
    var ca: String?

    @Flag(help: "Run without TLS (never in production).")
    var insecure = false

    @Option(help: "Serve /health, /ready, /status and /metrics over HTTP on HOST:PORT.")
    var admin: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(help: "text or json.")
    var logFormat = "text"

    @Option(help: "A file of 'name = value' lines setting any of these options (env REPLOG_CONFIG).")
    var config: String?

    func validate() throws {
        if let admin, Endpoint(admin) == nil { throw ValidationError("--admin '\(admin)' is not HOST:PORT") }
        guard ClusterID(clusterID) != nil else { throw ValidationError("--cluster-id '\(clusterID)' is not a UUID") }
        guard Logger.Level(flag: logLevel) != nil else { throw ValidationError("--log-level '\(logLevel)' is unknown") }
        guard LogFormat(rawValue: logFormat) != nil else { throw ValidationError("--log-format is text or json") }
        if !insecure && (cert == nil || key == nil || ca == nil) {
            throw ValidationError("TLS needs --cert, --key and --ca (see `replog certs`); --insecure runs without TLS")
        }
    }

    var cluster: ClusterID { ClusterID(clusterID)! }
    var adminEndpoint: Endpoint? { admin.flatMap(Endpoint.init) }

    /// Sets up logging and metrics for the process; returns the metrics registry.
    func bootstrapObservability() -> PrometheusCollectorRegistry {
        Observability.bootstrap(level: Logger.Level(flag: logLevel)!, format: LogFormat(rawValue: logFormat)!)
    }

    /// Mutual TLS accepting `peerRoles`, or plaintext with a loud warning under `--insecure`.
    ///
    /// The TLS material is reloaded without a restart when its files change and on SIGHUP: new
    /// connections use the new certificates and CA bundle, a failed reload keeps the old ones.
    /// Keep the returned reloader for as long as the process runs.
    func security(accepting peerRoles: Set<NodeRole>, logger: Logger) throws -> (TransportSecurity, TLSReloader?) {
        if insecure {
            logger.warning("running WITHOUT TLS (--insecure): anyone on the network can read and forge this traffic")
            // Nothing to reload; SIGHUP must not terminate the process either.
            signal(SIGHUP, SIG_IGN)
            return (.plaintext, nil)
        }
        var configuration = TLSConfiguration(
            certificateChainPath: cert!,
            privateKeyPath: key!,
            trustedCertificateAuthoritiesPath: ca!
        )
        configuration.allowedPeerRoles = peerRoles
        let provider = try TLSContextProvider(configuration: configuration)
        let reloader = TLSReloader(provider: provider, eventLoop: MultiThreadedEventLoopGroup.singleton.next()) {
            event in
            switch event {
            case .reloaded(let trigger):
                logger.notice("TLS material reloaded", metadata: ["tls/trigger": "\(trigger)"])
            case .failed(let error, let trigger):
                logger.error(
                    "TLS reload failed; the previous material stays in use",
                    metadata: ["tls/trigger": "\(trigger)", "tls/error": "\(error)"]
                )
            }
        }
        return (.mutualTLS(provider, logger: logger), reloader)
    }

    /// Serves `server`, and the admin endpoint when `--admin` is given, until SIGTERM or SIGINT,
    /// then drains and closes them (``ProcessServices``). `started` runs once everything is bound
    /// (to log and start the node), `drain` when a termination signal arrived, before the server
    /// closes; the caller stops its node and store after this returns.
    func serve(
        _ server: RPCServer,
        registry: PrometheusCollectorRegistry,
        logger: Logger,
        started: @escaping @Sendable () async -> Void,
        drain: @escaping @Sendable () async -> Void,
        report: @escaping @Sendable () async -> AdminReport
    ) async throws {
        var admin: AdminServer?
        if let endpoint = adminEndpoint {
            admin = try await AdminServer.bind(
                host: endpoint.host,
                port: endpoint.port,
                registry: registry,
                logger: logger,
                report: report
            )
        }
        try await ProcessServices.run(
            server: server,
            admin: admin,
            node: NodeService(logger: logger, start: started, drain: drain),
            logger: logger
        )
    }

    /// Parses `ID=HOST:PORT[,ID=HOST:PORT...]`, as `--peers` and `--replicas` take them.
    static func nodeMap(_ text: String, flag: String) throws -> [NodeID: Endpoint] {
        var map: [NodeID: Endpoint] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let id = UInt32(parts[0]), let endpoint = Endpoint(String(parts[1])) else {
                throw ValidationError("\(flag) entry '\(item)' is not ID=HOST:PORT")
            }
            guard map[NodeID(id)] == nil else { throw ValidationError("\(flag) names id \(id) twice") }
            map[NodeID(id)] = endpoint
        }
        return map
    }
}
