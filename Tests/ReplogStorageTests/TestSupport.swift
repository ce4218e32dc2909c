import Foundation
import NIOCore
import ReplogModel
import ReplogStorage

/// A fresh directory under the system temp dir, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ label: String = "store") {
        path = NSTemporaryDirectory() + "replog-storage-tests-\(label)-\(UUID().uuidString)"
    }

    var store: String { path + "/store" }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

func bytes(_ text: String) -> ByteBuffer {
    ByteBuffer(string: text)
}

func appendAction(_ position: Position, _ text: String, proposal: Proposal = 1, learned: Bool = true) -> Action {
    Action(position: position, promised: proposal, performed: proposal, learned: learned, value: .append(bytes(text)))
}

let smallSegments = StoreOptions(segmentSize: 4096)

/// Names of the segment files of a store, oldest first.
func segmentFiles(_ directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".segment") }.sorted()
        .map { directory + "/" + $0 }
}

/// Reads a whole file.
func fileBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func writeFileBytes(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// Zeroes `range` of the file at `path` (a lost or damaged write).
func zeroBytes(_ path: String, _ range: Range<Int>) throws {
    var data = try fileBytes(path)
    for index in range { data[index] = 0 }
    try writeFileBytes(path, data)
}
