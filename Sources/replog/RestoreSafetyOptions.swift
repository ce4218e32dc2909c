import ArgumentParser
import ReplogBackup

/// The checks every restore makes that an operator may override: another cluster's backup and
/// a stale one (`rehydrate`, `recovery stage`, `backup restore`).
struct RestoreSafetyOptions: ParsableArguments {
    @Flag(help: "Restore a backup taken from another cluster.")
    var allowForeignCluster = false

    @Flag(help: "Restore a backup older than --stale-after.")
    var acceptStale = false

    @Option(help: "Hours after which a backup counts as stale.")
    var staleAfter: Double = 6

    func validate() throws {
        guard staleAfter > 0 else { throw ValidationError("--stale-after must be positive") }
    }

    var staleAfterSeconds: UInt64 { UInt64(staleAfter * 3600) }

    var policy: RestorePolicy {
        RestorePolicy(
            staleAfterSeconds: staleAfterSeconds,
            acceptStale: acceptStale,
            allowForeignCluster: allowForeignCluster
        )
    }
}
