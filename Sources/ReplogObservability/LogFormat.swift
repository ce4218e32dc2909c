/// How log lines are written: for people, or for a log pipeline.
public enum LogFormat: String, Sendable, CaseIterable {
    /// `2026-11-23T12:00:00.123Z info replica: message key=value ...`
    case text
    /// One JSON object per line: `ts`, `level`, `label`, `message`, then the metadata keys.
    case json
}
