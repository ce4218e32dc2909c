import ArgumentParser

@main
struct Replog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replog",
        abstract: "A replicated log: replicas, coordinators, clients, backups and tools in one command.",
        subcommands: [LocalCluster.self, Backup.self, Bench.self, Certs.self]
    )
}
