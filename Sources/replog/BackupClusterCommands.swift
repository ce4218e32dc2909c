import ArgumentParser
import ReplogBackup
import ReplogClient
import ReplogModel
import ReplogObservability
import ReplogWire

#if canImport(Glibc)
    import Glibc
#endif

/// `replog backup create --label L`: an on-demand backup on the leading coordinator.
struct BackupCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Take a backup now on the leading coordinator, labelled --label; waits until it is ready.",
        discussion: """
            The label has 3 to 25 characters from [A-Za-z0-9_.-] and does not start with '..'; the \
            backup's id is <label>-<uuid>. The backup is online: it covers the log up to the position \
            learned when it starts, while writes go on.
            """
    )

    @OptionGroup var client: ClientOptions

    @Option(help: "The backup's label.")
    var label: String

    @Flag(help: "Print the id at once instead of waiting for STATUS_READY.")
    var noWait = false

    @Flag(help: "Print the backup as JSON (as `replog backup show` does).")
    var json = false

    func validate() throws {
        do {
            _ = try BackupLabel(label)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func run() async throws {
        let replog = try client.makeClient()
        defer { Task { await replog.close() } }
        var info = try await replog.createBackup(label: label)
        if !noWait {
            let interactive = isatty(STDERR_FILENO) == 1
            while info.status == .backingUp {
                if interactive {
                    eprint(
                        "\rbacking up \(info.id): \(info.entryCount) entries, \(info.size >> 20) MiB",
                        terminator: ""
                    )
                }
                try await Task.sleep(for: .milliseconds(200))
                info = try await replog.showBackup(info.id)
            }
            if interactive { eprint("") }
        }
        if info.status == .error { throw StorageFailure("backup \(info.id) failed: \(info.reason)") }
        let now = ReplogLogHandler.wallClockMilliseconds()
        print(json ? BackupInfoText.json(info, now: now) : BackupInfoText.line(info))
    }
}

/// `replog backup list [LABEL] [--json]`.
struct BackupList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the leading coordinator's backups, oldest first (only those labelled LABEL if given)."
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "Only backups with this label.")
    var label: String?

    @Flag(help: "Print a JSON array.")
    var json = false

    func run() async throws {
        let replog = try client.makeClient()
        defer { Task { await replog.close() } }
        let backups = try await replog.listBackups(label: label ?? "")
        let now = ReplogLogHandler.wallClockMilliseconds()
        if json {
            print("[" + backups.map { BackupInfoText.json($0, now: now) }.joined(separator: ",") + "]")
        } else {
            print(BackupInfoText.table(backups, now: now))
        }
    }
}

/// `replog backup show ID`: one backup as JSON.
struct BackupShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one backup as JSON: status (STATUS_BACKING_UP, STATUS_READY, STATUS_ERROR and why, "
            + "STATUS_RESTORING while staged for a recovery), positions, entries, size, SHA-256, creation time and age."
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "The backup's id (from `replog backup list`).")
    var id: String

    func run() async throws {
        let replog = try client.makeClient()
        defer { Task { await replog.close() } }
        let info = try await replog.showBackup(id)
        print(BackupInfoText.json(info, now: ReplogLogHandler.wallClockMilliseconds()))
    }
}

/// `replog backup delete ID`.
struct BackupDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete a backup from the leading coordinator's backup directory."
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "The backup's id (from `replog backup list`).")
    var id: String

    func run() async throws {
        let replog = try client.makeClient()
        defer { Task { await replog.close() } }
        try await replog.deleteBackup(id)
        print("deleted backup \(id)")
    }
}

/// How the cluster backup commands show a ``BackupInfo``.
enum BackupInfoText {
    static func age(_ info: BackupInfo, now: UInt64) -> UInt64 {
        now > info.createdAtMilliseconds ? (now - info.createdAtMilliseconds) / 1000 : 0
    }

    static func json(_ info: BackupInfo, now: UInt64) -> String {
        JSONText.object([
            "id": JSONText.string(info.id),
            "label": JSONText.string(info.label),
            "status": JSONText.string(info.status.description),
            "reason": JSONText.string(info.reason),
            "createdAt": JSONText.string(UTCTime(millisecondsSinceEpoch: info.createdAtMilliseconds).iso8601),
            "ageSeconds": String(age(info, now: now)),
            "firstPosition": String(info.firstPosition),
            "lastPosition": String(info.lastPosition),
            "entries": String(info.entryCount),
            "entryBytes": String(info.entryBytes),
            "size": String(info.size),
            "sha256": JSONText.string(info.sha256.hexString),
        ])
    }

    static func line(_ info: BackupInfo) -> String {
        "backup \(info.id) is \(info.status): positions \(info.firstPosition)...\(info.lastPosition),"
            + " \(info.entryCount) entries, \(info.size) bytes"
            + (info.sha256.isEmpty ? "" : ", sha256 \(info.sha256.hexString)")
    }

    static func table(_ backups: [BackupInfo], now: UInt64) -> String {
        var rows = [["ID", "LABEL", "STATUS", "CREATED", "AGE", "POSITIONS", "ENTRIES", "SIZE"]]
        for info in backups {
            rows.append([
                info.id, info.label.isEmpty ? "-" : info.label, info.status.description,
                UTCTime(millisecondsSinceEpoch: info.createdAtMilliseconds).iso8601,
                BackupError.duration(age(info, now: now)), "\(info.firstPosition)...\(info.lastPosition)",
                String(info.entryCount), String(info.size),
            ])
        }
        var lines = TextTable.lines(rows)
        for info in backups where info.status == .error { lines.append("\(info.id) failed: \(info.reason)") }
        if backups.isEmpty { lines.append("(no backups)") }
        return lines.joined(separator: "\n")
    }
}
