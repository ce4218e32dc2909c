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

    @Option(help: "Size of new segment files, e.g. 64MB; at least 17MB, so that one holds the largest entry.")
    var segmentSize = "64MB"

    @OptionGroup var process: ProcessOptions

    func validate() throws {
        _ = try segmentBytes()
        _ = try replicaMap()
        guard Endpoint(listen) != nil else { throw ValidationError("--listen '\(listen)' is not HOST:PORT") }
        let configuration = try nodeConfiguration(security: .plaintext)
        if let problem = configuration.problem { throw ValidationError(problem) }
    }

    func segmentBytes() throws -> Int {
        guard let size = ByteSize(segmentSize) else {
            throw ValidationError("--segment-size '\(segmentSize)' is not a size like 64MB")
        }
        let smallest = ReplicaNode.smallestSegmentSize
        guard size.bytes >= smallest, size.bytes <= Int(UInt32.max), size.bytes % 8 == 0 else {
            throw ValidationError(
                "--segment-size \(segmentSize) must be a multiple of 8 bytes from \(ByteSize(bytes: smallest)) to 4GB"
                    + " (a segment holds the largest entry, 16MB, plus room for records)"
            )
        }
        return size.bytes
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
        // Every role passes TLS, so that a wrong role gets a typed `roleNotAllowed` from the RPC layer.
        let (security, reloader) = try process.security(accepting: Set(NodeRole.allCases), logger: logger)
        defer { reloader?.stop() }
        let configuration = try nodeConfiguration(security: security)
        let store: ReplicaStore
        do {
            // Damage is quarantined, not fatal: the replica starts, refuses to serve or vote on the
            // damaged positions, and reports them (log, metrics, /status, `replog status`).
            var options = StoreOptions(segmentSize: try segmentBytes(), corruptionPolicy: .quarantine)
            // The replica decides on one event loop, and its next write waits for this one anyway.
            options.inlineWrites = true
            store = try ReplicaStore(directory: path, options: options, logger: logger)
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
            allowedRoles: ReplicaEndpoint.allowedRoles,
            permissions: ReplicaEndpoint.permissions,
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
            let health = await node.health
            let progress = await node.recoveryProgress
            let json = JSONText.object([
                "role": JSONText.string("replica"), "id": String(configuration.id.rawValue),
                "cluster": JSONText.string(cluster.description), "status": JSONText.string("\(status)"),
                "begin": String(begin), "end": String(end), "lag": String(progress.lag),
                "recoveriesStarted": String(progress.recoveriesStarted),
                "recoveriesFinished": String(progress.recoveriesFinished),
                "catchupPositions": String(progress.catchupPositions),
                "healthy": health.isHealthy ? "true" : "false",
                "damaged": "[" + health.damagedPositions.map(String.init).joined(separator: ",") + "]",
                "problem": JSONText.string(health.problem),
            ])
            // Damaged positions alone leave the replica voting on the others; a failed store or damage
            // of unknown position means it takes no votes at all.
            let votes = health.storageFailure == nil && health.unknownDamage.isEmpty
            let reason = votes ? "status \(status)" : health.problem
            return AdminReport(ready: status == .voting && votes, reason: reason, statusJSON: json)
        }
        await node.stop()
        await store.close()
        logger.notice("stopped")
    }
}
