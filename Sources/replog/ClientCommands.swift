import ArgumentParser
import NIOCore
import ReplogClient
import ReplogModel
import ReplogObservability
import ReplogWire

#if canImport(Glibc)
    import Glibc
#endif

/// `replog append`: appends one entry and prints its position.
struct Append: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append one entry to the log and print its position.",
        discussion: "The entry is DATA, the contents of --file, or standard input when DATA is '-'."
    )

    @OptionGroup var client: ClientOptions

    @Argument(help: "The entry's bytes as text, or '-' to read standard input.")
    var data: String?

    @Option(help: "Append the contents of this file.")
    var file: String?

    func validate() throws {
        switch (data, file) {
        case (nil, nil): throw ValidationError("give the entry as DATA, --file FILE, or '-' for standard input")
        case (_?, _?): throw ValidationError("give the entry either as DATA or with --file, not both")
        default: break
        }
    }

    func run() async throws {
        let bytes = try entryBytes()
        let replog = try client.makeClient()
        defer { Task { await replog.close() } }
        let position = try await replog.append(bytes)
        print(position)
    }

    func entryBytes() throws -> ByteBuffer {
        if let file { return try readAll(path: file) }
        if data == "-" { return try readAll(path: "/dev/stdin") }
        return ByteBuffer(string: data!)
    }
}

/// Reads a whole file (or standard input) into a buffer.
func readAll(path: String) throws -> ByteBuffer {
    guard let handle = fopen(path, "rb") else {
        throw ValidationError("cannot open \(path): \(String(cString: strerror(errno)))")
    }
    defer { fclose(handle) }
    var buffer = ByteBuffer()
    while true {
        let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 65536) { pointer in
            fread(pointer.baseAddress, 1, pointer.count, handle)
        }
        if read == 0 { break }
    }
    if ferror(handle) != 0 { throw ValidationError("cannot read \(path): \(String(cString: strerror(errno)))") }
    return buffer
}

/// `replog truncate --to N`.
struct Truncate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove every position below N from the log."
    )

    @OptionGroup var client: ClientOptions

    @Option(help: "The first position to keep.")
    var to: UInt64

    func run() async throws {
        let replog = try client.makeClient()
        defer { Task { await replog.close() } }
        let position = try await replog.truncate(to: to)
        print("truncated below \(to) (TRUNCATE learned at position \(position))")
    }
}

/// `replog status [--json]`: every replica and the leading coordinator.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show every replica (status, begin, end, lag) and the leading coordinator."
    )

    @OptionGroup var client: ClientOptions

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() async throws {
        let replog = try client.makeClient()
        defer { Task { await replog.close() } }
        let status = try await replog.status()
        print(json ? StatusFormatting.json(status) : StatusFormatting.table(status))
    }
}

/// How `replog status` shows a ``StatusResponse``.
enum StatusFormatting {
    static func lag(_ replica: ReplicaInfo, in status: StatusResponse) -> UInt64 {
        let end = status.replicas.map(\.end).max() ?? 0
        return end - min(end, replica.end)
    }

    static func table(_ status: StatusResponse) -> String {
        let leader =
            status.leader.isKnown ? "\(status.leader.leaderID) at \(status.leader.leaderAddress)" : "none known"
        var rows = [["ID", "ADDRESS", "STATUS", "BEGIN", "END", "LAG"]]
        for replica in status.replicas {
            rows.append([
                replica.id, replica.address, replica.reachable ? replica.status.description : "UNREACHABLE",
                String(replica.begin), String(replica.end), String(lag(replica, in: status)),
            ])
        }
        let lines = TextTable.lines(rows)
        return (["cluster \(status.clusterID)", "leading coordinator: \(leader)"] + lines).joined(separator: "\n")
    }

    static func json(_ status: StatusResponse) -> String {
        let replicas = status.replicas.map { replica in
            JSONText.object([
                "id": JSONText.string(replica.id),
                "address": JSONText.string(replica.address),
                "reachable": replica.reachable ? "true" : "false",
                "status": JSONText.string(replica.status.description),
                "begin": String(replica.begin),
                "end": String(replica.end),
                "lag": String(lag(replica, in: status)),
            ])
        }
        return JSONText.object([
            "clusterID": JSONText.string(status.clusterID.description),
            "leader": JSONText.object([
                "id": JSONText.string(status.leader.leaderID),
                "address": JSONText.string(status.leader.leaderAddress),
                "proposal": String(status.leader.proposal),
            ]),
            "replicas": "[" + replicas.joined(separator: ",") + "]",
        ])
    }
}
