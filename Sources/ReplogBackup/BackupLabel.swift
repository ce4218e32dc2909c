import ReplogModel

/// A label an operator gives an on-demand backup, with DC/OS's rules: 3 to 25 characters from
/// `[A-Za-z0-9_.-]`, not starting with `..`.
public struct BackupLabel: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public static let allowedCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")

    /// Validates `text`, or throws a ``BackupError/invalidLabel(_:reason:)`` that says which rule failed.
    public init(_ text: String) throws(BackupError) {
        guard (3...25).contains(text.count) else {
            throw .invalidLabel(text, reason: "it has \(text.count) characters; a label has 3 to 25")
        }
        if let bad = text.first(where: { !Self.allowedCharacters.contains($0) }) {
            throw .invalidLabel(text, reason: "'\(bad)' is not allowed; use only A-Z, a-z, 0-9, '_', '.' and '-'")
        }
        guard !text.hasPrefix("..") else {
            throw .invalidLabel(text, reason: "a label must not start with '..'")
        }
        value = text
    }

    public var description: String { value }
}

/// The id of a backup: `<label>-<uuid>` for on-demand backups, `replog-backup-<yyyy-MM-dd-HH-mm>`
/// for scheduled ones.
public enum BackupID {
    /// `<label>-<uuid>`, with a version 4 UUID drawn from `generator`.
    public static func make(label: BackupLabel, using generator: inout some RandomNumberGenerator) -> String {
        var high = generator.next() as UInt64
        var low = generator.next() as UInt64
        high = (high & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000  // version 4
        low = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000  // RFC 4122 variant
        return "\(label.value)-\(ClusterID(high: high, low: low))"
    }

    /// The prefix of every scheduled backup's id and file name.
    public static let scheduledPrefix = "replog-backup-"

    /// `replog-backup-<yyyy-MM-dd-HH-mm>` for a backup taken at `millisecondsSinceEpoch` (UTC).
    public static func scheduled(at millisecondsSinceEpoch: UInt64) -> String {
        scheduledPrefix + UTCTime(millisecondsSinceEpoch: millisecondsSinceEpoch).minuteStamp
    }

    /// Whether `id` names a scheduled backup (the only kind retention deletes).
    public static func isScheduled(_ id: String) -> Bool { id.hasPrefix(scheduledPrefix) }

    /// Ids double as file names: refuse anything that could escape the backup directory.
    public static func validate(_ id: String) throws(BackupError) {
        guard !id.isEmpty, id.count <= 255, !id.hasPrefix("."),
            id.allSatisfy({ BackupLabel.allowedCharacters.contains($0) })
        else {
            throw .invalidID(id)
        }
    }
}
