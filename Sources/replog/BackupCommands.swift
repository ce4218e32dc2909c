import ArgumentParser
import NIOCore
import ReplogBackup
import ReplogModel
import ReplogObservability

#if canImport(Glibc)
    import Glibc
#endif

/// `replog backup ...`: backup files, and the backups the leading coordinator keeps.
struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work with backups.",
        subcommands: [
            Verify.self, Inspect.self, BackupCreate.self, BackupList.self, BackupShow.self, BackupDelete.self,
            BackupFetch.self, Restore.self,
        ]
    )

    /// `replog backup verify FILE`: offline integrity check.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a backup file's structure and SHA-256 checksum (offline)."
        )

        @Argument(help: "The backup file.")
        var file: String

        @Flag(help: "Print the result as one JSON object.")
        var json = false

        func run() throws {
            let summary = try BackupCommandSupport.verify(file)
            if json {
                print(BackupCommandSupport.summaryJSON(summary, path: file))
            } else {
                print("OK \(file)")
                BackupCommandSupport.printSummary(summary)
            }
        }
    }

    /// `replog backup inspect FILE [--from N] [--to N] [--json]`.
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a backup file, then print its header and entries (offline)."
        )

        @Argument(help: "The backup file.")
        var file: String

        @Option(help: "First position to print.")
        var from: UInt64?

        @Option(help: "Last position to print (inclusive).")
        var to: UInt64?

        @Flag(help: "Print JSON lines: the summary first, then one object per entry.")
        var json = false

        @Flag(help: "Print only the summary, no entries.")
        var summaryOnly = false

        func validate() throws {
            if let from, let to, from > to {
                throw ValidationError("--from \(from) is above --to \(to)")
            }
        }

        func run() throws {
            // Verify the whole file before printing anything from it: a damaged backup must not
            // be shown as if its content could be trusted.
            let summary = try BackupCommandSupport.verify(file)
            if json {
                print(BackupCommandSupport.summaryJSON(summary, path: file))
            } else {
                BackupCommandSupport.printSummary(summary)
            }
            guard !summaryOnly else { return }
            let reader = try BackupFileReader(path: file)
            let range = (from ?? 0)...(to ?? UInt64.max)
            while let entry = try reader.next() {
                guard range.contains(entry.position) else {
                    if entry.position > range.upperBound { break }
                    continue
                }
                let (text, isText) = EntryFormatting.display(entry.bytes)
                if json {
                    print(
                        JSONText.object([
                            "position": String(entry.position),
                            "size": String(entry.bytes.readableBytes),
                            isText ? "text" : "hex": JSONText.string(text),
                        ])
                    )
                } else {
                    print("\(entry.position)\t\(entry.bytes.readableBytes) bytes\t\(isText ? text : "hex:" + text)")
                }
            }
        }
    }
}

enum BackupCommandSupport {
    /// Verifies `path`, reporting progress on a terminal for large files.
    static func verify(_ path: String) throws -> BackupSummary {
        let interactive = isatty(STDERR_FILENO) == 1
        let summary = try BackupFileReader.verify(path: path) { bytesRead in
            if interactive { eprint("\rverifying \(path): \(bytesRead >> 20) MiB read", terminator: "") }
        }
        if interactive && summary.fileSize >= 64 << 20 { eprint("") }
        return summary
    }

    static func printSummary(_ summary: BackupSummary) {
        let header = summary.header
        let created = UTCTime(millisecondsSinceEpoch: header.createdAtMilliseconds).iso8601
        print("backup id:     \(header.backupID)")
        print("label:         \(header.label.isEmpty ? "(scheduled)" : header.label)")
        print("cluster id:    \(header.clusterID)")
        print("created:       \(created)")
        print("positions:     \(header.firstPosition)...\(header.lastPosition)")
        print("entries:       \(summary.entryCount) (\(summary.entryBytes) bytes)")
        print("file size:     \(summary.fileSize) bytes")
        print("sha256:        \(summary.sha256.hexString)")
    }

    static func summaryJSON(_ summary: BackupSummary, path: String) -> String {
        let header = summary.header
        return JSONText.object([
            "file": JSONText.string(path),
            "status": JSONText.string("OK"),
            "backupID": JSONText.string(header.backupID),
            "label": JSONText.string(header.label),
            "clusterID": JSONText.string(header.clusterID.description),
            "createdAt": JSONText.string(UTCTime(millisecondsSinceEpoch: header.createdAtMilliseconds).iso8601),
            "firstPosition": String(header.firstPosition),
            "lastPosition": String(header.lastPosition),
            "entries": String(summary.entryCount),
            "entryBytes": String(summary.entryBytes),
            "fileSize": String(summary.fileSize),
            "sha256": JSONText.string(summary.sha256.hexString),
        ])
    }
}

/// Prints to standard error.
func eprint(_ text: String, terminator: String = "\n") {
    var line = Array((text + terminator).utf8)
    _ = line.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}
