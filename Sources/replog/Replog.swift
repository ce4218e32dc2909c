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

/// Runs Swift concurrency's tasks on NIO's event loops instead of a separate thread pool, and
/// runs one event loop unless `REPLOG_EVENT_LOOPS` asks for more.
///
/// Every request hops between the socket's event loop and the actors that decide its answer; on
/// separate threads each hop is a futex or eventfd wake and a context switch, which profiles
/// showed to be the largest single cost of an append on a 2-core host. With the event loops as the
/// global executor and a single loop, a hop is a queue push on the same thread: an RPC round trip
/// took 23 µs instead of 145 µs, and 64 clients appended 15% faster (docs/benchmarks.md). Each
/// process decides on one actor anyway; the replica's fdatasyncs run on its storage thread.
/// `REPLOG_CONCURRENCY_POOL=swift` keeps Swift's own pool (to compare, or should the hook ever
/// misbehave).
private func installEventLoopsAsGlobalExecutor() {
    let requested = CommandEnvironment.processEnvironment["REPLOG_EVENT_LOOPS"].flatMap { Int($0) }
    NIOSingletons.groupLoopCountSuggestion = max(1, requested ?? 1)
    guard CommandEnvironment.processEnvironment["REPLOG_CONCURRENCY_POOL"] != "swift" else { return }
    NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
}
