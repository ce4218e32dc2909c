import ArgumentParser
import Foundation
import NIOCore
import ReplogModel
import ReplogObservability
import ReplogStorage

/// `replog read`: the log's entries from the cluster, or, with `--path DIR`, the stored actions
/// of a replica's store that no replica holds open.
struct Read: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the log's entries from the cluster, or with --path the actions in a replica's store.",
        discussion: "With --path the replica must not be running; without it the entries come through a coordinator."
    )

    @Option(help: "A replica's store directory to read offline, instead of the cluster.")
    var path: String?

    @OptionGroup var client: ClientOptions

    @Flag(help: "Keep following new entries (cluster only); Ctrl-C stops.")
    var follow = false

    @Option(help: "First position to print (default: the log's begin).")
    var from: UInt64?

    @Option(help: "Last position to print (default: the log's end).")
    var to: UInt64?

    @Flag(help: "Print one JSON object per line.")
    var json = false

    func validate() throws {
        if let from, let to, from > to {
            throw ValidationError("--from \(from) is above --to \(to); give a range with from <= to")
        }
        if path != nil && follow { throw ValidationError("--follow reads the cluster; it does not go with --path") }
    }

    func run() async throws {
        guard let path else { return try await readCluster() }
        let store: ReplicaStore
        do {
            store = try ReplicaStore(
                directory: path,
                options: StoreOptions(corruptionPolicy: .quarantine, readOnly: true)
            )
        } catch StorageError.locked(_, let pid) {
            let holder = pid.map { "process \($0)" } ?? "another process"
            throw StorageFailure(
                "\(path) is held open by \(holder) (a running replica); stop it before reading its store, "
                    + "or read the log through the cluster"
            )
        } catch {
            throw StorageFailure(error)
        }
        let damaged = printActions(path, store)
        await store.close()
        if damaged {
            FileHandle.standardError.write(
                Data(
                    ("\(path) holds damaged records; restore this replica from a backup or re-create it "
                        + "and let it recover from its peers\n").utf8
                )
            )
            throw ExitCode(2)
        }
    }

    /// Prints the cluster's entries from `--from` (default 1) to `--to` (default: the end), or on
    /// with `--follow`.
    private func readCluster() async throws {
        let replog = try client.makeClient()
        let start = from ?? 1
        let entries = follow ? replog.tail(from: start) : replog.read(from: start, to: to)
        for try await entry in entries {
            let (text, isText) = EntryFormatting.display(entry.bytes)
            if json {
                print(
                    JSONText.object([
                        "position": String(entry.position), "size": String(entry.bytes.readableBytes),
                        isText ? "text" : "hex": JSONText.string(text),
                    ])
                )
            } else {
                print("\(entry.position)\t\(isText ? text : "hex:" + text)")
            }
            if follow { fflush(nil) }
        }
        await replog.close()
    }

    /// Prints the actions; returns whether the store holds damaged records.
    private func printActions(_ path: String, _ store: ReplicaStore) -> Bool {
        var damaged = !store.corruption.isEmpty
        let metadata = store.metadata
        for report in store.corruption {
            FileHandle.standardError.write(Data("damaged: \(report)\n".utf8))
        }
        if !json {
            print(
                "store \(path): status \(metadata.status), promised \(metadata.promised), "
                    + "begin \(store.begin), end \(store.end), \(store.count) positions"
            )
        }
        let lower = from ?? store.begin
        let upper = to ?? store.end
        guard lower <= upper else { return damaged }
        var next = lower
        while next <= upper {
            let positions = store.storedPositions(in: next...upper, limit: 1024)
            guard let last = positions.last else { break }
            for position in positions {
                do {
                    if let action = try store.action(at: position) {
                        print(json ? ActionText.json(action) : ActionText.line(action))
                    }
                } catch {
                    damaged = true
                    print(
                        json
                            ? "{\"position\":\(position),\"damaged\":true}"
                            : "\(position) DAMAGED (\(error))"
                    )
                }
            }
            if last == upper { break }
            next = last + 1
        }
        return damaged
    }
}

/// An error for the command line: prints its message (not a Swift dump) and exits 1.
struct StorageFailure: Error, CustomStringConvertible {
    var description: String

    init(_ message: String) { description = message }
    init(_ error: any Error) { description = "\(error)" }
}

/// How `replog read` shows an action.
enum ActionText {
    static func type(_ action: Action) -> String {
        switch action.value {
        case .none: "PROMISE"
        case .nop(let tombstone): tombstone ? "NOP(tombstone)" : "NOP"
        case .append: "APPEND"
        case .truncate: "TRUNCATE"
        }
    }

    /// The value as text when every byte is printable UTF-8, else nil.
    static func printable(_ bytes: ByteBuffer) -> String? {
        guard let text = bytes.getString(at: bytes.readerIndex, length: bytes.readableBytes),
            Array(text.utf8) == bytes.readableBytesView.map({ $0 }),
            text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F || $0 == "\t" })
        else { return nil }
        return text
    }

    static func hex(_ bytes: ByteBuffer) -> String {
        let digits = Array("0123456789abcdef")
        var out = ""
        out.reserveCapacity(bytes.readableBytes * 2)
        for byte in bytes.readableBytesView {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return out
    }

    static func line(_ action: Action) -> String {
        var out =
            "\(action.position) \(type(action)) promised=\(action.promised) "
            + "performed=\(action.performed.map(String.init) ?? "-") learned=\(action.learned) "
            + "size=\(action.value?.byteCount ?? 0)"
        switch action.value {
        case .append(let bytes):
            if let text = printable(bytes) { out += " text=\(quoted(text))" } else { out += " hex=\(hex(bytes))" }
        case .truncate(let to): out += " to=\(to)"
        default: break
        }
        return out
    }

    static func json(_ action: Action) -> String {
        var fields = [
            "\"position\":\(action.position)",
            "\"type\":\(quoted(type(action)))",
            "\"promised\":\(action.promised)",
            "\"performed\":\(action.performed.map(String.init) ?? "null")",
            "\"learned\":\(action.learned)",
            "\"size\":\(action.value?.byteCount ?? 0)",
        ]
        switch action.value {
        case .append(let bytes):
            if let text = printable(bytes) {
                fields.append("\"text\":\(quoted(text))")
            } else {
                fields.append("\"hex\":\(quoted(hex(bytes)))")
            }
        case .truncate(let to): fields.append("\"to\":\(to)")
        default: break
        }
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// A JSON string literal (also used for text mode so spaces and quotes stay unambiguous).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
