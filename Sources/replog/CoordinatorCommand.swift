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

    @Option(
        help: ArgumentHelp(
            "The cluster's other coordinators: ID=HOST:PORT[,ID=HOST:PORT...] (this one may be listed too).",
            discussion: "One coordinator leads; the others send clients to it and take over when it dies."
        )
    )
    var coordinators: String?

    @Option(help: "Milliseconds a leader may stay silent before another coordinator takes over.")
    var failoverTimeout = 1000

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

    /// The other coordinators (this one left out if listed).
    func coordinatorMap() throws -> [NodeID: Endpoint] {
        guard let coordinators else { return [:] }
        var map = try ProcessOptions.nodeMap(coordinators, flag: "--coordinators")
        map[NodeID(id)] = nil
        return map
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
        configuration.coordinators = try coordinatorMap()
        configuration.failoverTimeout = .milliseconds(failoverTimeout)
        // Poll often enough that a dead leader is noticed within the timeout, and stagger the
        // successors by more than a poll, so that each sees the one before it lead in time.
        configuration.pollInterval = .milliseconds(max(20, failoverTimeout / 5))
        configuration.rankDelay = .milliseconds(max(50, failoverTimeout / 2))
        configuration.backups = try backupSettings()
        return configuration
    }

    func validate() throws {
        guard Endpoint(listen) != nil else { throw ValidationError("--listen '\(listen)' is not HOST:PORT") }
        if let advertise, Endpoint(advertise) == nil {
            throw ValidationError("--advertise '\(advertise)' is not HOST:PORT")
        }
        guard (100...60_000).contains(failoverTimeout) else {
            throw ValidationError("--failover-timeout is 100 to 60000 milliseconds")
        }
        if let problem = try nodeConfiguration(security: .plaintext).problem { throw ValidationError(problem) }
    }

    func run() async throws {
        let registry = process.bootstrapObservability()
        var logger = Logger(label: "replog.coordinator")
        logger[metadataKey: "coordinator/id"] = "\(id)"
        let (replicaSecurity, replicaReloader) = try process.security(accepting: [.replica], logger: logger)
        // Every role passes TLS, so that a wrong role gets a typed `roleNotAllowed` from the RPC layer.
        let (clientSecurity, clientReloader) = try process.security(accepting: Set(NodeRole.allCases), logger: logger)
        let (coordinatorSecurity, coordinatorReloader) = try process.security(accepting: [.coordinator], logger: logger)
        defer {
            replicaReloader?.stop()
            clientReloader?.stop()
            coordinatorReloader?.stop()
        }
        var configuration = try nodeConfiguration(security: replicaSecurity)
        configuration.coordinatorSecurity = coordinatorSecurity
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
            allowedRoles: [.client, .tool, .coordinator],
            security: clientSecurity,
            logger: logger,
            appendHandler: node.appendHandler(),
            handler: node.handler()
        )
        let cluster = configuration.clusterID
        try await process.serve(server, registry: registry, logger: logger) { [logger] in
            logger.notice(
                "coordinator listening",
                metadata: ["net/listen": "\(listen)", "admin/listen": "\(process.admin ?? "off")"]
            )
            await node.start()
        } drain: {
            await node.drain(timeout: .seconds(10))
        } report: {
            Self.report(await node.snapshot(), cluster: cluster)
        }
        await node.stop()
        logger.notice("stopped")
    }

    /// `/ready` and `/status`: ready while this coordinator leads or knows a live leader.
    static func report(_ snapshot: CoordinatorSnapshot, cluster: ClusterID) -> AdminReport {
        let json = JSONText.object([
            "role": JSONText.string("coordinator"), "id": String(snapshot.id.rawValue),
            "cluster": JSONText.string(cluster.description),
            "leading": snapshot.leading ? "true" : "false",
            "phase": JSONText.string(snapshot.phase),
            "leader": snapshot.leader.map { String($0.rawValue) } ?? "null",
            "leaderAddress": snapshot.leaderAddress.map(JSONText.string) ?? "null",
            "learnedThrough": String(snapshot.learnedThrough),
            "proposal": String(snapshot.proposal), "elections": String(snapshot.elections),
            "leaderChanges": String(snapshot.leaderChanges),
            "recovery": JSONText.string(snapshot.recovery.description),
        ])
        let reason =
            if snapshot.draining { "stopping" } else if snapshot.leading {
                "leading"
            } else if let leader = snapshot
                .leader
            { "following coordinator \(leader.rawValue)" } else { "no live leader known" }
        return AdminReport(ready: snapshot.ready, reason: reason, statusJSON: json)
    }
}
