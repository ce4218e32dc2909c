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

/// A UTC calendar time computed without Foundation (days-from-civil, Howard Hinnant's algorithm).
public struct UTCTime: Sendable, Hashable {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int

    public init(millisecondsSinceEpoch: UInt64) {
        let seconds = Int(millisecondsSinceEpoch / 1000)
        let days = seconds / 86_400
        let secondOfDay = seconds % 86_400
        hour = secondOfDay / 3600
        minute = secondOfDay % 3600 / 60
        second = secondOfDay % 60
        let z = days + 719_468
        let era = z / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    private static func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// `yyyy-MM-dd-HH-mm`.
    public var minuteStamp: String {
        "\(year)-\(Self.two(month))-\(Self.two(day))-\(Self.two(hour))-\(Self.two(minute))"
    }

    /// ISO 8601, `yyyy-MM-ddTHH:mm:ssZ`.
    public var iso8601: String {
        "\(year)-\(Self.two(month))-\(Self.two(day))T\(Self.two(hour)):\(Self.two(minute)):\(Self.two(second))Z"
    }
}
