import ArgumentParser
import Dispatch
import Logging
import ReplogAdmin
import ReplogConsensus
import ReplogModel
import ReplogNet
import ReplogNetTLS
import ReplogObservability
import ReplogReplica
import ReplogStorage

#if canImport(Glibc)
    import Glibc
#endif

/// `replog replica`: runs one replica of a cluster until SIGTERM.
struct ReplicaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replica",
        abstract: "Run a replica: its store, the replica state machine and the recover protocol."
    )

    @Option(help: "The replica's store directory (made by `replog initialize`, or empty).")
    var path: String

    @Option(help: "Address to listen on for replicas and coordinators, HOST:PORT.")
    var listen: String

    @Option(help: "This replica's id, 1 to 255, unique among the cluster's replicas and coordinators.")
    var id: UInt32

    @Option(help: "Every replica of the cluster: ID=HOST:PORT[,ID=HOST:PORT...] (this one may be left out).")
    var peers: String

    @Option(help: "How many VOTING replicas make a quorum: a majority of the replicas.")
    var quorum: Int?

    @Flag(help: "Let a brand-new cluster whose replicas are all EMPTY initialize itself.")
    var autoInitialize = false

    @OptionGroup var process: ProcessOptions

    func validate() throws {
        _ = try replicaMap()
        guard Endpoint(listen) != nil else { throw ValidationError("--listen '\(listen)' is not HOST:PORT") }
        let configuration = try nodeConfiguration(security: .plaintext)
        if let problem = configuration.problem { throw ValidationError(problem) }
    }

    func replicaMap() throws -> [NodeID: Endpoint] {
        var map = try ProcessOptions.nodeMap(peers, flag: "--peers")
        if map[NodeID(id)] == nil, let own = Endpoint(listen) { map[NodeID(id)] = own }
        return map
    }

    func nodeConfiguration(security: TransportSecurity) throws -> ReplicaNodeConfiguration {
        let replicas = try replicaMap()
        var configuration = ReplicaNodeConfiguration(
            id: NodeID(id),
            replicas: replicas,
            quorum: quorum ?? replicas.count / 2 + 1,
            clusterID: process.cluster,
            security: security
        )
        configuration.autoInitialize = autoInitialize
        return configuration
    }

    func run() async throws {
        let registry = process.bootstrapObservability()
        var logger = Logger(label: "replog.replica")
        logger[metadataKey: "replica/id"] = "\(id)"
        let (security, reloader) = try process.security(accepting: [.replica, .coordinator, .tool], logger: logger)
        defer { reloader?.stop() }
        let configuration = try nodeConfiguration(security: security)
        let store: ReplicaStore
        do {
            store = try ReplicaStore(directory: path, logger: logger)
        } catch {
            throw StorageFailure(error)
        }
        let cluster = configuration.clusterID
        if let recorded = store.metadata.clusterID, recorded != cluster {
            await store.close()
            throw StorageFailure(
                "\(path) belongs to cluster \(recorded) but --cluster-id is \(cluster): this is another cluster's"
                    + " replica directory; check the path and the cluster id"
            )
        }
        if store.metadata.clusterID == nil {
            try await store.updateMetadata { $0.clusterID = cluster }
        }

        let node = try ReplicaNode(configuration: configuration, store: store, logger: logger)
        let listen = Endpoint(listen)!
        let server = try await RPCServer.bind(
            host: listen.host,
            port: listen.port,
            identity: PeerIdentity(clusterID: cluster, role: .replica, nodeID: NodeID(id).wireName),
            allowedRoles: [.replica, .coordinator, .tool],
            security: security,
            logger: logger,
            handler: node.handler()
        )
        try await process.serve(server, registry: registry, logger: logger) { [logger] in
            logger.notice(
                "replica listening",
                metadata: [
                    "net/listen": "\(listen)", "admin/listen": "\(process.admin ?? "off")", "replica/path": "\(path)",
                ]
            )
            await node.start()
        } drain: {
            await node.drain(timeout: .seconds(10))
        } report: {
            let status = await node.status
            let (begin, end) = (await node.begin, await node.end)
            let progress = await node.recoveryProgress
            let json = JSONText.object([
                "role": JSONText.string("replica"), "id": String(configuration.id.rawValue),
                "cluster": JSONText.string(cluster.description), "status": JSONText.string("\(status)"),
                "begin": String(begin), "end": String(end), "lag": String(progress.lag),
                "recoveriesStarted": String(progress.recoveriesStarted),
                "recoveriesFinished": String(progress.recoveriesFinished),
                "catchupPositions": String(progress.catchupPositions),
            ])
            return AdminReport(ready: status == .voting, reason: "status \(status)", statusJSON: json)
        }
        await node.stop()
        await store.close()
        logger.notice("stopped")
    }
}
