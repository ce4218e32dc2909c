import ReplogConfiguration

/// The options of `replog replica` and `replog coordinator` that `REPLOG_<NAME>` variables and a
/// `--config` file can set, so that a systemd environment file or a compose file's
/// `environment:` can configure a process without a long command line.
///
/// Every option and flag of these commands belongs here: a test compares these lists with the
/// commands' `--help`.
extension ProcessOptions {
    static let optionNames = ["cluster-id", "cert", "key", "ca", "admin", "log-level", "log-format"]
    static let flagNames = ["insecure"]
}

extension ReplicaCommand {
    static let optionSources = OptionSources(
        options: ["path", "listen", "id", "peers", "quorum"] + ProcessOptions.optionNames,
        flags: ["auto-initialize"] + ProcessOptions.flagNames
    )
}

extension CoordinatorCommand {
    static let optionSources = OptionSources(
        options: [
            "listen", "advertise", "id", "replicas", "quorum", "coordinators", "failover-timeout", "backup-dir",
            "backup-interval", "max-saved-backups",
        ] + ProcessOptions.optionNames,
        flags: ProcessOptions.flagNames
    )
}
