import ArgumentParser
import ReplogWire

extension Backup {
    /// `replog backup restore ID`: stage and commit in one command (DC/OS's `backup restore`).
    struct Restore: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore the log from a backup in the coordinator's --backup-dir (stage + commit).",
            discussion: """
                The same as `replog recovery stage ID` then `replog recovery commit`, without the \
                chance to inspect or edit the staged copy in between. `replog backup show ID` reports \
                STATUS_RESTORING while it runs. Every old position is truncated: readers are told \
                where to restart.
                """
        )

        @OptionGroup var client: ClientOptions

        @Argument(help: "The backup's id, as `replog backup list` shows it.")
        var id: String

        @OptionGroup var safety: RestoreSafetyOptions

        func validate() throws {
            guard !id.contains("/") else {
                throw ValidationError("'\(id)' is not a backup id; to restore a file, use `replog recovery stage FILE`")
            }
        }

        func run() async throws {
            let replog = try client.makeClient(name: "replog-restore", wholeTimeoutPerAttempt: true)
            defer { Task { await replog.close() } }
            var random = SystemRandomNumberGenerator()
            let staged = try await replog.recoveryStage(
                RecoveryStageRequest(
                    token: max(1, random.next()),
                    backupID: id,
                    allowForeignCluster: safety.allowForeignCluster,
                    acceptStale: safety.acceptStale,
                    staleAfterSeconds: safety.staleAfterSeconds
                )
            )
            eprint("restoring backup \(staged.backupID): \(staged.entryCount) entries")
            let committed = try await RecoveryOutput.commit(replog)
            print(RecoveryOutput.committed(committed))
        }
    }
}
