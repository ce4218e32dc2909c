import ArgumentParser

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
            Rehydrate.self, Bench.self, StorageCrashChild.self, Certs.self,
        ]
    )

    /// Adds options from `REPLOG_*` variables and `--config` files, then runs the command.
    static func main() async {
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
