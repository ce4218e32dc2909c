import ArgumentParser

@main
struct Replog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replog",
        abstract: "A replicated log: replicas, coordinators, clients, backups and tools in one command.",
        subcommands: [Bench.self, Certs.self]
    )
}
