import ArgumentParser
import Logging
import ReplogAdmin
import ReplogBackup
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

    @Option(help: "Take backups while leading and keep them in this directory (created if missing).")
    var backupDir: String?

    @Option(help: "Time between scheduled backups, such as 30s, 5m, 1h or 1h30m.")
    var backupInterval = "1h"

    @Option(help: "Scheduled backups to keep; the oldest beyond this are deleted (labelled ones are kept).")
    var maxSavedBackups = 48

    @OptionGroup var process: ProcessOptions

    func backupSettings() throws -> BackupSettings? {
        guard let interval = DurationText.parse(backupInterval) else {
            throw ValidationError("--backup-interval '\(backupInterval)' is not a duration like 30s, 5m, 1h or 1h30m")
        }
        guard let backupDir else { return nil }
        return BackupSettings(directory: backupDir, interval: interval, maxSaved: maxSavedBackups)
    }

    func replicaMap() throws -> [NodeID: Endpoint] {
        try ProcessOptions.nodeMap(replicas, flag: "--replicas")
    }

    func nodeConfiguration(security: TransportSecurity) throws -> CoordinatorNodeConfiguration {
        let replicas = try replicaMap()
        var configuration = CoordinatorNodeConfiguration(
            id: NodeID(id),
            advertisedAddress: advertise ?? listen,
            replicas: replicas,
            quorum: quorum ?? replicas.count / 2 + 1,
            clusterID: process.cluster,
            security: security
        )
        configuration.backups = try backupSettings()
        return configuration
    }

    func validate() throws {
        guard Endpoint(listen) != nil else { throw ValidationError("--listen '\(listen)' is not HOST:PORT") }
        if let advertise, Endpoint(advertise) == nil {
            throw ValidationError("--advertise '\(advertise)' is not HOST:PORT")
        }
        if let problem = try nodeConfiguration(security: .plaintext).problem { throw ValidationError(problem) }
    }

    func run() async throws {
        let registry = process.bootstrapObservability()
        var logger = Logger(label: "replog.coordinator")
        logger[metadataKey: "coordinator/id"] = "\(id)"
        let (replicaSecurity, replicaReloader) = try process.security(accepting: [.replica], logger: logger)
        let (clientSecurity, clientReloader) = try process.security(
            accepting: [.client, .tool, .coordinator],
            logger: logger
        )
        defer {
            replicaReloader?.stop()
            clientReloader?.stop()
        }
        let configuration = try nodeConfiguration(security: replicaSecurity)
        if let backups = configuration.backups {
            do {
                try BackupDirectory(path: backups.directory).prepare()
            } catch {
                throw ValidationError("--backup-dir: \(error)")
            }
        }
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
        try await process.serve(server, registry: registry, logger: logger) {
            logger.notice(
                "coordinator listening",
                metadata: ["net/listen": "\(listen)", "admin/listen": "\(process.admin ?? "off")"]
            )
            await node.start()
        } report: {
            let leading = await node.isLeading
            let learned = await node.learnedThrough
            let recovery = await node.recoveryState
            let json = JSONText.object([
                "role": JSONText.string("coordinator"), "id": String(configuration.id.rawValue),
                "cluster": JSONText.string(configuration.clusterID.description),
                "leading": leading ? "true" : "false", "learnedThrough": String(learned),
                "recovery": JSONText.string(recovery.description),
            ])
            return AdminReport(ready: leading, reason: leading ? "leading" : "not leading", statusJSON: json)
        }
        await node.stop()
        logger.notice("stopped")
    }
}
