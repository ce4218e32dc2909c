public import Logging
import ReplogModel

#if canImport(Glibc)
    import Glibc
#endif

/// The swift-log handler of every replog process: one line per event on standard error, as text
/// or JSON, with the logger's metadata (replica id, status, proposal, position...) on the line.
public struct ReplogLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let format: LogFormat
    let clock: @Sendable () -> UInt64
    let sink: @Sendable (String) -> Void

    /// - Parameters:
    ///   - clock: milliseconds since the Unix epoch; injected so tests can pin time.
    ///   - sink: receives each finished line (with its newline); defaults to standard error.
    public init(
        label: String,
        level: Logger.Level,
        format: LogFormat,
        clock: @escaping @Sendable () -> UInt64 = ReplogLogHandler.wallClockMilliseconds,
        sink: @escaping @Sendable (String) -> Void = ReplogLogHandler.standardError
    ) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.clock = clock
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let time = UTCTime(millisecondsSinceEpoch: clock()).iso8601Milliseconds
        let message = event.message.description
        switch format {
        case .text:
            var line = "\(time) \(event.level) \(label): \(message)"
            for key in merged.keys.sorted() { line += " \(key)=\(Self.text(merged[key]!))" }
            sink(line + "\n")
        case .json:
            var line = "{\"ts\":\(JSONText.string(time)),\"level\":\(JSONText.string(event.level.rawValue))"
            line += ",\"label\":\(JSONText.string(label)),\"message\":\(JSONText.string(message))"
            for key in merged.keys.sorted() { line += ",\(JSONText.string(key)):\(Self.json(merged[key]!))" }
            sink(line + "}\n")
        }
    }

    static func text(_ value: Logger.MetadataValue) -> String {
        let plain = value.description
        return plain.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) ? JSONText.string(plain) : plain
    }

    static func json(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): return JSONText.string(string)
        case .stringConvertible(let convertible): return JSONText.string(convertible.description)
        case .array(let values): return "[" + values.map(json).joined(separator: ",") + "]"
        case .dictionary(let values):
            return "{"
                + values.keys.sorted().map { "\(JSONText.string($0)):\(json(values[$0]!))" }.joined(separator: ",")
                + "}"
        }
    }

    /// The wall clock in milliseconds since the Unix epoch.
    @Sendable public static func wallClockMilliseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
    }

    /// Writes a whole line with one `write(2)`, so that concurrent lines do not interleave.
    @Sendable public static func standardError(_ line: String) {
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
