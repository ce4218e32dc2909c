import ArgumentParser

/// `replog local-cluster`: the README's first quick-start command.
///
/// The replica and coordinator processes it starts do not exist yet (issue "Replica and
/// coordinator processes"); until they do it says so plainly instead of pretending.
struct LocalCluster: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local-cluster",
        abstract: "Start a local TLS cluster on 127.0.0.1 (not yet available)."
    )

    func run() throws {
        print(
            """
            replog local-cluster is not yet available: the replica and coordinator processes are still being built.
            What works today: the wire protocol (Protocol/SPEC.md) and its benchmark, `replog bench codec`.
            Run the test suite with: scripts/test
            """
        )
        throw ExitCode(2)
    }
}
