import Foundation
import NIOCore
import ReplogModel
import ReplogWire
import Testing

/// The golden vectors in `Protocol/vectors/`: each file decodes to the value its manifest entry
/// describes, and re-encodes to the same bytes.
///
/// Run with `REPLOG_WRITE_VECTORS=1` to write the files from ``Samples/all`` after a deliberate
/// protocol change; a normal run only reads them.
@Suite struct VectorTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Protocol/vectors")

    struct ManifestEntry {
        var file: String
        var description: [String: Any]
    }

    static func manifest() throws -> [ManifestEntry] {
        let data = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let vectors = try #require(root["vectors"] as? [[String: Any]])
        return try vectors.map { entry in
            let file = try #require(entry["file"] as? String)
            var description = entry
            description.removeValue(forKey: "file")
            return ManifestEntry(file: file, description: description)
        }
    }

    static func readHex(_ file: String) throws -> ByteBuffer {
        let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
        let digits = Array(text.filter { !$0.isWhitespace })
        try #require(digits.count % 2 == 0, "\(file) has an odd number of hex digits")
        var buffer = ByteBuffer()
        for index in stride(from: 0, to: digits.count, by: 2) {
            let byte = try #require(UInt8(String(digits[index...index + 1]), radix: 16), "bad hex in \(file)")
            buffer.writeInteger(byte)
        }
        return buffer
    }

    @Test func writeVectorsWhenAsked() throws {
        guard ProcessInfo.processInfo.environment["REPLOG_WRITE_VECTORS"] == "1" else { return }
        var entries: [[String: Any]] = []
        for sample in Samples.all {
            var buffer = ByteBuffer()
            buffer.writeEnvelope(sample.envelope)
            let hex = MessageJSON.hex(buffer)
            var lines: [String] = []
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 64, limitedBy: hex.endIndex) ?? hex.endIndex
                lines.append(String(hex[index..<next]))
                index = next
            }
            let file = sample.name + ".hex"
            try (lines.joined(separator: "\n") + "\n").write(
                to: Self.directory.appendingPathComponent(file),
                atomically: true,
                encoding: .utf8
            )
            var entry = MessageJSON.describe(sample.envelope)
            entry["file"] = file
            entries.append(entry)
        }
        let root: [String: Any] = [
            "comment": "Golden vectors of the replog wire protocol, version 1. Each file holds one frame in hex;"
                + " its entry gives the decoded value. 64-bit integers are decimal strings, bytes are hex.",
            "protocolVersion": 1,
            "vectors": entries,
        ]
        let data = try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: Self.directory.appendingPathComponent("manifest.json"))
    }

    @Test func everyVectorDecodesToItsManifestValueAndReencodesIdentically() throws {
        let entries = try Self.manifest()
        #expect(entries.count == Samples.all.count)
        for entry in entries {
            var bytes = try Self.readHex(entry.file)
            let original = bytes
            let frame = try #require(try FrameDecoder.decodeFrame(from: &bytes), "\(entry.file) is not one whole frame")
            #expect(bytes.readableBytes == 0, "\(entry.file) has bytes after its frame")
            let envelope = Envelope(
                requestID: frame.header.requestID,
                flags: frame.header.flags,
                message: try Message(frame: frame)
            )
            let decoded = try MessageJSON.canonical(MessageJSON.describe(envelope))
            let expected = try MessageJSON.canonical(entry.description)
            #expect(decoded == expected, "\(entry.file) decodes to a value its manifest entry does not describe")

            var reencoded = ByteBuffer()
            reencoded.writeEnvelope(envelope)
            #expect(reencoded == original, "\(entry.file) does not re-encode to the same bytes")

            let sample = try #require(Samples.all.first { $0.name + ".hex" == entry.file })
            #expect(envelope == sample.envelope)
        }
    }

    @Test func everyMessageTypeHasAVector() throws {
        let covered = Set(Samples.all.map(\.envelope.message.type))
        let missing = MessageType.allCases.filter { !covered.contains($0) }
        #expect(missing.isEmpty, "message types without a golden vector: \(missing)")
        let files = Set(try Self.manifest().map(\.file))
        for type in MessageType.allCases {
            #expect(Samples.all.contains { $0.envelope.message.type == type && files.contains($0.name + ".hex") })
        }
    }

    /// Bytes written out by hand from SPEC.md, so that a mistake made the same way in the encoder
    /// and the decoder cannot pass unnoticed.
    @Test func handWrittenPromiseRequestMatchesTheSpecification() throws {
        let expected: [UInt8] = [
            0x52, 0x50, 0x4C, 0x47,  // magic "RPLG"
            0x01,  // version
            0x10,  // PromiseRequest
            0x00, 0x00,  // flags
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0B,  // request id 11
            0x00, 0x00, 0x00, 0x11,  // payload length 17
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04,  // proposal 4
            0x01,  // has position
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09,  // position 9
        ]
        var buffer = ByteBuffer()
        buffer.writeEnvelope(.request(.promiseRequest(PromiseRequest(proposal: 4, position: 9)), id: 11))
        #expect(Array(buffer.readableBytesView) == expected)
    }

    @Test func handWrittenAppendRequestMatchesTheSpecification() throws {
        let expected: [UInt8] = [
            0x52, 0x50, 0x4C, 0x47, 0x01, 0x30, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,  // request id 2
            0x00, 0x00, 0x00, 0x1F,  // payload length 31
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,  // client 1
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,  // sequence 2
            0x00, 0x00, 0x00, 0x02,  // two entries
            0x00, 0x00, 0x00, 0x02, 0x68, 0x69,  // "hi"
            0x00, 0x00, 0x00, 0x01, 0x21,  // "!"
        ]
        var buffer = ByteBuffer()
        let request = AppendRequest(
            token: AppendToken(client: 1, sequence: 2),
            entries: [ByteBuffer(string: "hi"), ByteBuffer(string: "!")]
        )
        buffer.writeEnvelope(.request(.appendRequest(request), id: 2))
        #expect(Array(buffer.readableBytesView) == expected)
    }
}
