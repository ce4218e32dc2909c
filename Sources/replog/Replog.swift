import ArgumentParser
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

@main
struct Replog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replog",
        abstract: "A replicated log: replicas, coordinators, clients, backups and tools in one command.",
        subcommands: [
            LocalCluster.self, Initialize.self, Append.self, Read.self, Truncate.self, Status.self, Backup.self,
            Rehydrate.self, Recovery.self, ReplicaCommand.self, CoordinatorCommand.self, Bench.self,
            StorageCrashChild.self,
            Certs.self,
        ]
    )

    /// Adds options from `REPLOG_*` variables and `--config` files, then runs the command.
    static func main() async {
        // A parent (a test runner, a supervisor) may hand down a mask that blocks SIGTERM; the
        // long-running commands stop cleanly on it, so let it through.
        var termination = sigset_t()
        sigemptyset(&termination)
        sigaddset(&termination, SIGTERM)
        sigaddset(&termination, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &termination, nil)
        installEventLoopsAsGlobalExecutor()
        let arguments: [String]
        do {
            arguments = try CommandEnvironment.resolve(
                Array(CommandLine.arguments.dropFirst()),
                environment: CommandEnvironment.processEnvironment
            )
        } catch {
            eprint("Error: \(error)")
            self.exit(withError: ExitCode(64))
        }
        await main(arguments)
    }
}

/// Runs Swift concurrency's tasks on NIO's event loops instead of a separate thread pool.
///
/// Every request hops between the socket's event loop and the actors that decide its answer; on
/// separate pools each hop is a thread switch (a futex wake and a context switch), which profiles
/// showed to be the largest single cost of an append on a 2-core host. With the event loops as the
/// global executor, a hop is usually a queue push on the same thread. `REPLOG_CONCURRENCY_POOL=swift`
/// keeps Swift's own pool (to compare, or should the hook ever misbehave).
private func installEventLoopsAsGlobalExecutor() {
    guard CommandEnvironment.processEnvironment["REPLOG_CONCURRENCY_POOL"] != "swift" else { return }
    NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
}
