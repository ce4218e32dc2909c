import ArgumentParser
import NIOCore
import ReplogBackup
import ReplogClient
import ReplogModel
import ReplogObservability
import ReplogWire

#if canImport(Glibc)
    import Glibc
#endif

/// `replog recovery ...`: staged recovery on the leading coordinator (Aurora's stage, print,
/// delete, commit, unload), step by step in docs/operations/backup-restore.md.
struct Recovery: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stage a backup on the leading coordinator, inspect and edit it, then commit or unload it.",
        discussion: """
            While a backup is staged the coordinator refuses client writes (recoveryInProgress); \
            reads go on. `commit` replaces the log's content with the staged entries, at positions \
            after every old one; readers of old positions are told where to restart.
            """,
        subcommands: [Stage.self, Print.self, Delete.self, Diff.self, Commit.self, Unload.self, Status.self]
    )

    /// `replog recovery stage ID|FILE`.
    struct Stage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stage a backup: an id from the coordinator's --backup-dir, or a local backup FILE.",
            discussion: """
                An argument that names an existing file is verified here, then uploaded; anything \
                else is a backup id in the coordinator's --backup-dir. The coordinator verifies the \
                backup (SHA-256) and refuses another cluster's backup and a stale one unless told \
                otherwise. From then on client writes are refused until `commit` or `unload`.
                """
        )

        @OptionGroup var client: ClientOptions

        @Argument(help: "A backup id in the coordinator's --backup-dir, or a backup file.")
        var backup: String

        @OptionGroup var safety: RestoreSafetyOptions

        func validate() throws {
            if backup.contains("/") && access(backup, F_OK) != 0 {
                throw ValidationError("no file \(backup); give a backup file or the id of a backup in --backup-dir")
            }
        }

        func run() async throws {
            let replog = try client.makeClient(name: "replog-recovery", wholeTimeoutPerAttempt: true)
            defer { Task { await replog.close() } }
            var random = SystemRandomNumberGenerator()
            var request = RecoveryStageRequest(
                token: max(1, random.next()),
                allowForeignCluster: safety.allowForeignCluster,
                acceptStale: safety.acceptStale,
                staleAfterSeconds: safety.staleAfterSeconds
            )
            if access(backup, F_OK) == 0 {
                request.uploadID = try await RecoveryUploader(client: replog, path: backup).upload()
            } else {
                request.backupID = backup
            }
            let status = try await replog.recoveryStage(request)
            RecoveryOutput.printStaged(status)
        }
    }

    /// `replog recovery print [--from N] [--to N] [--grep TEXT] [--json]`.
    struct Print: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the staged copy's entries.")

        @OptionGroup var client: ClientOptions

        @Option(help: "First position to print.")
        var from: UInt64?

        @Option(help: "Last position to print (inclusive).")
        var to: UInt64?

        @Option(help: "Print only entries whose bytes contain TEXT (case-sensitive).")
        var grep: String?

        @Flag(help: "Print one JSON object per line.")
        var json = false

        func validate() throws {
            if let from, let to, from > to { throw ValidationError("--from \(from) is above --to \(to)") }
            try RecoveryOutput.checkPattern(grep)
        }

        func run() async throws {
            let replog = try client.makeClient(name: "replog-recovery")
            defer { Task { await replog.close() } }
            var shown = 0
            for try await entry in RecoveryOutput.staged(replog, from: from ?? 0, to: to ?? .max, grep: grep ?? "") {
                print(RecoveryOutput.line(entry.position, entry.bytes, size: entry.bytes.readableBytes, json: json))
                shown += 1
            }
            if !json && shown == 0 { eprint("no staged entry matches") }
        }
    }

    /// `replog recovery delete POSITION... | --grep TEXT`.
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete entries from the staged copy (by position, or every entry containing TEXT).",
            discussion: "Prints what it removed. The live log is not touched until `replog recovery commit`."
        )

        @OptionGroup var client: ClientOptions

        @Argument(help: "Positions of staged entries to delete.")
        var positions: [UInt64] = []

        @Option(help: "Delete every staged entry whose bytes contain TEXT (case-sensitive).")
        var grep: String?

        @Flag(help: "Print one JSON object per removed entry.")
        var json = false

        func validate() throws {
            guard positions.isEmpty != (grep == nil) else {
                throw ValidationError("give positions to delete or --grep TEXT, not both and not neither")
            }
            try RecoveryOutput.checkPattern(grep)
        }

        func run() async throws {
            let replog = try client.makeClient(name: "replog-recovery")
            defer { Task { await replog.close() } }
            let response = try await replog.recoveryDelete(
                RecoveryDeleteRequest(positions: positions, grep: grep ?? "")
            )
            for entry in response.removed {
                print(RecoveryOutput.line(entry.position, entry.head, size: Int(entry.size), json: json))
            }
            guard !json else { return }
            let unlisted = Int(response.removedCount) - response.removed.count
            if unlisted > 0 { print("... and \(unlisted) more") }
            var summary = "deleted \(response.removedCount) entries; the staged copy holds \(response.remainingCount)"
            let already = Set(positions).subtracting(response.removed.map(\.position))
            if !already.isEmpty {
                summary += " (already deleted: \(already.sorted().map(String.init).joined(separator: ", ")))"
            }
            eprint(summary)
        }
    }

    /// `replog recovery diff [--limit N] [--json]`.
    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare the live log with the staged copy, entry contents as multisets.",
            discussion: """
                Lists what the live log has that the staged copy lacks (a commit discards it) and \
                what the staged copy has that the live log lacks (a commit brings it back). Entries \
                are compared by their bytes, not their positions (a restore moves positions): equal \
                bytes pair up in position order, extra copies are listed.
                """
        )

        @OptionGroup var client: ClientOptions

        @Option(help: "List at most N entries per side (the counts are always complete).")
        var limit = 50

        @Flag(help: "Print one JSON object.")
        var json = false

        func validate() throws {
            guard limit >= 0 else { throw ValidationError("--limit must not be negative") }
        }

        func run() async throws {
            let replog = try client.makeClient(name: "replog-recovery")
            defer { Task { await replog.close() } }
            let status = try await replog.recoveryStatus()
            guard status.state != .none else {
                throw RecoveryFailure("no backup staged: stage one with `replog recovery stage ID|FILE`")
            }
            var diff = RecoveryDiff()
            let positions = try await replog.positions()
            for try await entry in replog.read(from: max(positions.begin, 1), to: positions.end) {
                diff.addLive(position: entry.position, bytes: entry.bytes)
            }
            for try await entry in RecoveryOutput.staged(replog, from: 0, to: .max, grep: "") {
                diff.addStaged(position: entry.position, bytes: entry.bytes)
            }
            let result = diff.result()
            if json {
                print(RecoveryOutput.diffJSON(result, limit: limit))
                return
            }
            print(
                "live log: \(result.liveCount) entries; staged copy (backup \(status.backupID)):"
                    + " \(result.stagedCount) entries"
            )
            print(
                "in both: \(result.common) entries; the first \(result.sharedPrefix) are the same, in the same order"
            )
            for (title, items) in [
                ("only in the live log (a commit discards these)", result.onlyLive),
                ("only in the staged copy (a commit brings these back)", result.onlyStaged),
            ] {
                print("\(title): \(items.count) entries")
                for item in items.prefix(limit) {
                    print("  " + RecoveryOutput.line(item.position, item.head, size: item.size, json: false))
                }
                if items.count > limit { print("  ... and \(items.count - limit) more (--limit)") }
            }
        }
    }

    /// `replog recovery commit`.
    struct Commit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace the log's content with the staged copy, then unload it.",
            discussion: """
                The restored entries take positions after every old one; readers of older \
                positions are told to restart from the first restored position. If the commit is \
                interrupted, run it again: readers stay at the old end and writes stay refused until \
                a commit finishes.
                """
        )

        @OptionGroup var client: ClientOptions

        func run() async throws {
            let replog = try client.makeClient(name: "replog-recovery")
            defer { Task { await replog.close() } }
            let status = try await RecoveryOutput.commit(replog)
            print(RecoveryOutput.committed(status))
        }
    }

    /// `replog recovery unload`.
    struct Unload: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drop the staged copy and serve writes again (nothing happens when none is staged)."
        )

        @OptionGroup var client: ClientOptions

        func run() async throws {
            let replog = try client.makeClient(name: "replog-recovery")
            defer { Task { await replog.close() } }
            print(try await replog.recoveryUnload().message)
        }
    }

    /// `replog recovery status [--json]`.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the staged recovery, if any.")

        @OptionGroup var client: ClientOptions

        @Flag(help: "Print one JSON object.")
        var json = false

        func run() async throws {
            let replog = try client.makeClient(name: "replog-recovery")
            defer { Task { await replog.close() } }
            let status = try await replog.recoveryStatus()
            print(json ? RecoveryOutput.statusJSON(status) : RecoveryOutput.statusText(status))
        }
    }
}

/// Sends a local backup file to the leading coordinator in chunks, after checking it here.
struct RecoveryUploader {
    let client: ReplogClient
    let path: String
    /// Far below the 64 MiB frame limit, big enough that per-request costs do not matter.
    static let chunkSize = 4 << 20

    /// Verifies the file, uploads it, and returns the upload's id.
    func upload() async throws -> UInt64 {
        // A damaged file is refused here, before anything crosses the network.
        let summary = try BackupCommandSupport.verify(path)
        let interactive = isatty(STDERR_FILENO) == 1
        var random = SystemRandomNumberGenerator()
        let id = max(1, random.next() as UInt64)
        guard let file = fopen(path, "rb") else {
            throw RecoveryFailure("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var offset: UInt64 = 0
        var chunk = [UInt8](repeating: 0, count: Self.chunkSize)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count < chunk.count && ferror(file) != 0 {
                throw RecoveryFailure("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            let last = offset + UInt64(count) >= summary.fileSize
            let response = try await client.recoveryUpload(
                RecoveryUploadRequest(
                    uploadID: id,
                    offset: offset,
                    last: last,
                    chunk: ByteBuffer(bytes: chunk[0..<count])
                )
            )
            offset = response.received
            if interactive { eprint("\ruploaded \(offset >> 20) of \(summary.fileSize >> 20) MiB", terminator: "") }
            if last { break }
            guard count > 0 else { throw RecoveryFailure("\(path) changed while it was uploaded; try again") }
        }
        if interactive { eprint("") }
        return id
    }
}

/// Output and shared steps of the recovery commands.
enum RecoveryOutput {
    /// How a staged entry is shown: `POSITION<TAB>SIZE bytes<TAB>text` (or `hex:...`), or JSON.
    static func line(_ position: Position, _ bytes: ByteBuffer, size: Int, json: Bool) -> String {
        let (text, isText) = EntryFormatting.display(bytes)
        let partial = bytes.readableBytes < size
        if json {
            var fields = [
                ("position", String(position)), ("size", String(size)),
                (isText ? "text" : "hex", JSONText.string(text)),
            ]
            if partial { fields.append(("truncated", "true")) }
            return object(fields)
        }
        return "\(position)\t\(size) bytes\t\(isText ? text : "hex:" + text)\(partial ? "..." : "")"
    }

    /// How long ago `milliseconds` (since the epoch) was, in short form.
    static func age(_ milliseconds: UInt64) -> String {
        let now = ReplogLogHandler.wallClockMilliseconds()
        return BackupError.duration(now > milliseconds ? (now - milliseconds) / 1000 : 0)
    }

    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\(JSONText.string($0.0)):\($0.1)" }.joined(separator: ",") + "}"
    }

    static func checkPattern(_ grep: String?) throws {
        guard let grep else { return }
        guard !grep.isEmpty, grep.utf8.count <= 255 else {
            throw ValidationError("--grep TEXT must have 1 to 255 bytes")
        }
    }

    /// The staged entries in `from ... to` containing `grep`, page by page.
    static func staged(_ client: ReplogClient, from: Position, to: Position, grep: String) -> AsyncThrowingStream<
        Entry, any Error
    > {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var next = from
                    var more = true
                    while more {
                        let page = try await client.recoveryPrint(
                            RecoveryPrintRequest(from: next, to: to, maxEntries: 1000, maxBytes: 4 << 20, grep: grep)
                        )
                        for entry in page.entries { continuation.yield(entry) }
                        more = page.more && page.next > next
                        next = page.next
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    static func printStaged(_ status: RecoveryStatusResponse) {
        let age = RecoveryOutput.age(status.createdAtMilliseconds)
        print(
            "staged backup \(status.backupID)\(status.label.isEmpty ? "" : " (label \(status.label))"):"
                + " \(status.entryCount) entries, \(status.entryBytes) bytes, positions"
                + " \(status.firstPosition)...\(status.lastPosition), cluster \(status.clusterID),"
                + " created \(UTCTime(millisecondsSinceEpoch: status.createdAtMilliseconds).iso8601) (\(age) ago)"
        )
        print(
            status.persisted
                ? "kept in the coordinator's --backup-dir (staging/): it survives a coordinator restart"
                : "held in the coordinator's memory only (it has no --backup-dir): a coordinator restart unloads it"
        )
        print(
            "client writes are refused until `replog recovery commit` or `replog recovery unload`;"
                + " inspect it with `replog recovery print` and `replog recovery diff`"
        )
    }

    /// Starts the commit and follows it until it is over; fails when it stopped.
    static func commit(_ client: ReplogClient) async throws -> RecoveryStatusResponse {
        let interactive = isatty(STDERR_FILENO) == 1
        var status = try await client.recoveryCommit()
        let total = status.entryCount
        while status.state == .committing {
            if interactive { eprint("\rcommitting: \(status.written) of \(total) entries written", terminator: "") }
            try await Task.sleep(for: .milliseconds(100))
            status = try await client.recoveryStatus()
        }
        if interactive { eprint("") }
        guard status.state == .none, status.restartFrom > 0 else {
            throw RecoveryFailure(status.message)
        }
        return status
    }

    static func committed(_ status: RecoveryStatusResponse) -> String {
        let count = status.committedLast + 1 - status.restartFrom
        return
            "committed: the log now holds \(count) entries at positions \(status.restartFrom)...\(status.committedLast);"
            + " readers of older positions are told to restart from \(status.restartFrom); writes are served again"
    }

    static func statusText(_ status: RecoveryStatusResponse) -> String {
        var lines = ["state:         \(status.state)"]
        if status.state != .none {
            lines += [
                "backup:        \(status.backupID)\(status.label.isEmpty ? "" : " (label \(status.label))")",
                "created:       \(UTCTime(millisecondsSinceEpoch: status.createdAtMilliseconds).iso8601)"
                    + " (\(RecoveryOutput.age(status.createdAtMilliseconds)) ago)",
                "cluster id:    \(status.clusterID)",
                "positions:     \(status.firstPosition)...\(status.lastPosition) in the backup",
                "staged:        \(status.entryCount) entries (\(status.entryBytes) bytes), \(status.deletedCount) deleted",
                "kept:          \(status.persisted ? "in --backup-dir, survives a restart" : "in memory only")",
            ]
            if status.readCap > 0 { lines.append("readers held:  at position \(status.readCap)") }
            if status.state == .committing { lines.append("written:       \(status.written) entries") }
        }
        if status.restartFrom > 0 {
            lines.append("last commit:   entries at \(status.restartFrom)...\(status.committedLast)")
        }
        if !status.message.isEmpty { lines.append("last event:    \(status.message)") }
        return lines.joined(separator: "\n")
    }

    static func statusJSON(_ status: RecoveryStatusResponse) -> String {
        object([
            ("state", JSONText.string(status.state.description)), ("persisted", String(status.persisted)),
            ("backupID", JSONText.string(status.backupID)), ("label", JSONText.string(status.label)),
            ("clusterID", JSONText.string(status.clusterID.description)),
            ("createdAt", JSONText.string(UTCTime(millisecondsSinceEpoch: status.createdAtMilliseconds).iso8601)),
            ("firstPosition", String(status.firstPosition)), ("lastPosition", String(status.lastPosition)),
            ("entries", String(status.entryCount)), ("entryBytes", String(status.entryBytes)),
            ("deleted", String(status.deletedCount)), ("readCap", String(status.readCap)),
            ("written", String(status.written)), ("restartFrom", String(status.restartFrom)),
            ("committedLast", String(status.committedLast)), ("message", JSONText.string(status.message)),
        ])
    }

    static func diffJSON(_ result: RecoveryDiff.Result, limit: Int) -> String {
        func items(_ items: [RecoveryDiff.Item]) -> String {
            "["
                + items.prefix(limit).map { line($0.position, $0.head, size: $0.size, json: true) }.joined(
                    separator: ","
                )
                + "]"
        }
        return object([
            ("liveCount", String(result.liveCount)), ("stagedCount", String(result.stagedCount)),
            ("common", String(result.common)), ("sharedPrefix", String(result.sharedPrefix)),
            ("onlyLiveCount", String(result.onlyLive.count)), ("onlyStagedCount", String(result.onlyStaged.count)),
            ("onlyLive", items(result.onlyLive)), ("onlyStaged", items(result.onlyStaged)),
        ])
    }
}

/// A commit that did not finish, with the coordinator's explanation.
struct RecoveryFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
