import Foundation
import NIOCore
import ReplogBackup
import ReplogModel

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent(
            "replog-backup-tests-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    func names() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }
}

enum Fixtures {
    static let cluster = ClusterID(high: 0x1111_2222_3333_4444, low: 0x5555_6666_7777_8888)

    static func header(id: String = "nightly-check", first: Position = 1, last: Position = 100) -> BackupHeader {
        BackupHeader(
            clusterID: cluster,
            backupID: id,
            label: "nightly",
            createdAtMilliseconds: 1_700_000_000_000,
            firstPosition: first,
            lastPosition: last
        )
    }

    static let entries: [BackupEntry] = [
        BackupEntry(position: 1, bytes: ByteBuffer(string: "first")),
        BackupEntry(position: 2, bytes: ByteBuffer()),
        BackupEntry(position: 5, bytes: ByteBuffer(bytes: [0, 1, 2, 255])),
        BackupEntry(position: 99, bytes: ByteBuffer(string: "last")),
    ]

    /// Writes `entries` as a backup and returns its path.
    @discardableResult
    static func write(
        in directory: String,
        header: BackupHeader = header(),
        entries: [BackupEntry] = entries
    ) throws -> (String, BackupSummary) {
        let writer = try BackupFileWriter(directory: directory, header: header)
        for entry in entries { try writer.append(position: entry.position, bytes: entry.bytes) }
        let summary = try writer.finish()
        return (writer.finalPath, summary)
    }

    static func readAll(_ path: String) throws -> ([BackupEntry], BackupSummary) {
        let reader = try BackupFileReader(path: path)
        var entries: [BackupEntry] = []
        while let entry = try reader.next() { entries.append(entry) }
        return (entries, reader.summary!)
    }
}
