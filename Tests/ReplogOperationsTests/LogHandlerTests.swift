import Foundation
import Logging
import NIOConcurrencyHelpers
import ReplogObservability
import Testing

/// Collects the lines a handler writes.
final class LineSink: Sendable {
    private let storage = NIOLockedValueBox<[String]>([])
    var lines: [String] { storage.withLockedValue { $0 } }
    func append(_ line: String) { storage.withLockedValue { $0.append(line) } }
}

@Suite struct LogHandlerTests {
    func logger(_ format: LogFormat, sink: LineSink, level: Logger.Level = .info) -> Logger {
        Logger(label: "replica") { label in
            ReplogLogHandler(
                label: label,
                level: level,
                format: format,
                clock: { 1_700_000_000_123 },
                sink: sink.append
            )
        }
    }

    @Test func textLinesCarryTimeLevelLabelAndSortedMetadata() {
        let sink = LineSink()
        var log = logger(.text, sink: sink)
        log[metadataKey: "replica/id"] = "r1"
        log.info("became VOTING", metadata: ["replica/status": "VOTING", "paxos/proposal": "7"])
        #expect(
            sink.lines == [
                "2023-11-14T22:13:20.123Z info replica: became VOTING paxos/proposal=7 replica/id=r1 replica/status=VOTING\n"
            ]
        )
    }

    @Test func jsonLinesAreOneObjectEach() throws {
        let sink = LineSink()
        let log = logger(.json, sink: sink)
        log.warning(
            "disk \"almost\" full\nsoon",
            metadata: ["storage/free": .stringConvertible(1024), "list": ["a", "b"]]
        )
        #expect(sink.lines.count == 1)
        let line = try #require(sink.lines.first)
        #expect(line.hasSuffix("}\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["ts"] as? String == "2023-11-14T22:13:20.123Z")
        #expect(object["level"] as? String == "warning")
        #expect(object["label"] as? String == "replica")
        #expect(object["message"] as? String == "disk \"almost\" full\nsoon")
        #expect(object["storage/free"] as? String == "1024")
        #expect(object["list"] as? [String] == ["a", "b"])
    }

    @Test func levelsBelowTheConfiguredOneAreDropped() {
        let sink = LineSink()
        let log = logger(.text, sink: sink, level: .warning)
        log.info("quiet")
        log.debug("quieter")
        log.error("loud")
        #expect(sink.lines.count == 1)
        #expect(sink.lines.first?.contains("error replica: loud") == true)
        #expect(Logger.Level(flag: "WARNING") == .warning)
        #expect(Logger.Level(flag: "verbose") == nil)
    }
}
