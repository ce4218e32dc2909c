import ArgumentParser
import ReplogBackup
import ReplogObservability

#if canImport(Glibc)
    import Glibc
#endif

/// `replog rehydrate --backup FILE`: restore a backup into a new or wiped cluster.
struct Rehydrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a backup into an initialized, empty log through quorum writes.",
        discussion: """
            The backup file is verified first (structure and SHA-256); nothing is written if it \
            fails, if the log is not empty, if the backup comes from another cluster (unless \
            --allow-foreign-cluster) or if it is older than --stale-after (unless --accept-stale). \
            Restored entries keep their order and take positions 1, 2, 3... in the new log.
            """
    )

    @OptionGroup var client: ClientOptions

    @Option(help: "The backup file to restore.")
    var backup: String

    @Option(help: "Entries written per quorum write.")
    var batchSize = 256

    @OptionGroup var safety: RestoreSafetyOptions

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    func run() async throws {
        let replog = try client.makeClient(name: "replog-rehydrate")
        let policy = safety.policy
        let interactive = isatty(STDERR_FILENO) == 1
        let result = try await Rehydrator(policy: policy, batchSize: batchSize).rehydrate(
            file: backup,
            into: ClientBackupSink(client: replog),
            nowMilliseconds: ReplogLogHandler.wallClockMilliseconds()
        ) { restored, total in
            if interactive { eprint("\rrestored \(restored) of \(total) entries", terminator: "") }
        }
        if interactive { eprint("") }
        await replog.close()
        let landed =
            result.positions.map { "at positions \($0.lowerBound)...\($0.upperBound)" } ?? "(the backup was empty)"
        print(
            "restored \(result.backup.entryCount) entries (\(result.backup.entryBytes) bytes) from \(backup) \(landed)"
        )
    }
}
