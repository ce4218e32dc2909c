import Logging
import ReplogAdmin
import ReplogNet
import ServiceLifecycle

/// The parts of a replica or coordinator process as services of one `ServiceGroup`.
///
/// SIGTERM or SIGINT shuts the group down gracefully, in reverse order of the services: first the
/// node drains (refuses new work, finishes what is in flight while connections stay open), then
/// the RPC server closes its listener and connections, then the admin endpoint stops.
enum ProcessServices {
    /// The longest a graceful shutdown may take before the group is cancelled.
    static let shutdownLimit: Duration = .seconds(20)

    /// Runs `server`, the admin endpoint (if any) and the node until a termination signal, then
    /// shuts them down in order.
    static func run(
        server: RPCServer,
        admin: AdminServer?,
        node: NodeService,
        logger: Logger
    ) async throws {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let admin {
            services.append(.init(service: AdminService(server: admin), serviceName: "admin"))
        }
        services.append(.init(service: RPCService(server: server), serviceName: "rpc"))
        // The node finishing its drain is the expected end, not a failure of the group.
        services.append(
            .init(service: node, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "node")
        )
        var configuration = ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = shutdownLimit
        try await ServiceGroup(configuration: configuration).run()
    }
}

/// The replica or coordinator itself: started once everything is bound, drained on shutdown.
struct NodeService: Service {
    let logger: Logger
    let start: @Sendable () async -> Void
    let drain: @Sendable () async -> Void

    func run() async throws {
        await start()
        // Returns when the group shuts down gracefully; throws if it is cancelled instead.
        try? await gracefulShutdown()
        logger.notice("stopping: draining work in flight")
        await drain()
    }
}

/// The RPC listener: closes its listener and connections when the group shuts down.
struct RPCService: Service {
    let server: RPCServer

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await server.run()
        } onGracefulShutdown: {
            Task { await server.close() }
        }
    }
}

/// The admin HTTP endpoint: stops serving when the group shuts down.
struct AdminService: Service {
    let server: AdminServer

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await server.run()
            }
        } catch is CancellationError {
            // Stopping it this way is the plan, not a failure of the process.
        }
    }
}
