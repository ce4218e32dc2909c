import ArgumentParser
import Logging
import ReplogAdmin
import ReplogConsensus
import ReplogCoordinator
import ReplogModel
import ReplogNet
import ReplogNetTLS
import ReplogObservability

/// `replog coordinator`: runs a coordinator until SIGTERM.
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run a coordinator: it elects itself and turns client appends into quorum writes."
    )

    @Option(help: "Address to listen on for clients, HOST:PORT.")
    var listen: String

    @Option(help: "The address clients should use for this coordinator, when it differs from --listen.")
    var advertise: String?

    @Option(help: "This coordinator's id, 1 to 255, unique among the cluster's replicas and coordinators.")
    var id: UInt32

    @Option(help: "The cluster's replicas: ID=HOST:PORT[,ID=HOST:PORT...].")
    var replicas: String

    @Option(help: "How many VOTING replicas make a quorum: a majority of the replicas.")
    var quorum: Int?

    @Option(help: "The cluster's id (a UUID).")
    var clusterID: String

    @Option(help: "This coordinator's certificate, PEM (from `replog certs create-node --role coordinator`).")
    var cert: String?

    @Option(help: "This coordinator's private key, PEM.")
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

    func replicaMap() throws -> [NodeID: Endpoint] {
        var map: [NodeID: Endpoint] = [:]
        for item in replicas.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let id = UInt32(parts[0]), let endpoint = Endpoint(String(parts[1])) else {
                throw ValidationError("--replicas entry '\(item)' is not ID=HOST:PORT")
            }
            guard map[NodeID(id)] == nil else { throw ValidationError("--replicas names replica \(id) twice") }
            map[NodeID(id)] = endpoint
        }
        return map
    }

    func nodeConfiguration(security: TransportSecurity) throws -> CoordinatorNodeConfiguration {
        let replicas = try replicaMap()
        return CoordinatorNodeConfiguration(
            id: NodeID(id),
            advertisedAddress: advertise ?? listen,
            replicas: replicas,
            quorum: quorum ?? replicas.count / 2 + 1,
            clusterID: ClusterID(clusterID)!,
            security: security
        )
    }

    func validate() throws {
        guard Endpoint(listen) != nil else { throw ValidationError("--listen '\(listen)' is not HOST:PORT") }
        if let advertise, Endpoint(advertise) == nil {
            throw ValidationError("--advertise '\(advertise)' is not HOST:PORT")
        }
        if let admin, Endpoint(admin) == nil { throw ValidationError("--admin '\(admin)' is not HOST:PORT") }
        guard ClusterID(clusterID) != nil else { throw ValidationError("--cluster-id '\(clusterID)' is not a UUID") }
        guard Logger.Level(flag: logLevel) != nil else { throw ValidationError("--log-level '\(logLevel)' is unknown") }
        guard LogFormat(rawValue: logFormat) != nil else { throw ValidationError("--log-format is text or json") }
        if !insecure && (cert == nil || key == nil || ca == nil) {
            throw ValidationError("TLS needs --cert, --key and --ca (see `replog certs`); --insecure runs without TLS")
        }
        if let problem = try nodeConfiguration(security: .plaintext).problem { throw ValidationError(problem) }
    }

    func run() async throws {
        let registry = Observability.bootstrap(
            level: Logger.Level(flag: logLevel)!,
            format: LogFormat(rawValue: logFormat)!
        )
        var logger = Logger(label: "replog.coordinator")
        logger[metadataKey: "coordinator/id"] = "\(id)"
        let replicaSecurity: TransportSecurity
        let clientSecurity: TransportSecurity
        if insecure {
            logger.warning("running WITHOUT TLS (--insecure): anyone on the network can read and forge this traffic")
            replicaSecurity = .plaintext
            clientSecurity = .plaintext
        } else {
            replicaSecurity = try .mutualTLS(
                certificatePath: cert!,
                keyPath: key!,
                caPath: ca!,
                allowedPeerRoles: [.replica],
                logger: logger
            )
            clientSecurity = try .mutualTLS(
                certificatePath: cert!,
                keyPath: key!,
                caPath: ca!,
                allowedPeerRoles: [.client, .tool, .coordinator],
                logger: logger
            )
        }
        let configuration = try nodeConfiguration(security: replicaSecurity)
        let node = try CoordinatorNode(configuration: configuration, logger: logger)
        let listen = Endpoint(listen)!
        let server = try await RPCServer.bind(
            host: listen.host,
            port: listen.port,
            identity: PeerIdentity(clusterID: configuration.clusterID, role: .coordinator, nodeID: NodeID(id).wireName),
            allowedRoles: [.client, .tool],
            security: clientSecurity,
            logger: logger,
            handler: node.handler()
        )
        var adminServer: AdminServer?
        if let admin, let endpoint = Endpoint(admin) {
            adminServer = try await AdminServer.bind(
                host: endpoint.host,
                port: endpoint.port,
                registry: registry,
                logger: logger
            ) {
                let leading = await node.isLeading
                let learned = await node.learnedThrough
                let json = JSONText.object([
                    "role": JSONText.string("coordinator"), "id": String(configuration.id.rawValue),
                    "cluster": JSONText.string(configuration.clusterID.description),
                    "leading": leading ? "true" : "false", "learnedThrough": String(learned),
                ])
                return AdminReport(ready: leading, reason: leading ? "leading" : "not leading", statusJSON: json)
            }
        }
        logger.notice(
            "coordinator listening",
            metadata: ["net/listen": "\(listen)", "admin/listen": "\(admin ?? "off")"]
        )
        await node.start()
        let adminTask = adminServer.map { admin in Task { try await admin.run() } }
        let serving = Task { try await server.run() }
        let signal = await ReplicaCommand.waitForTerminationSignal()
        logger.notice("stopping", metadata: ["signal": "\(signal)"])
        await server.close()
        serving.cancel()
        adminTask?.cancel()
        await node.stop()
        logger.notice("stopped")
    }
}
