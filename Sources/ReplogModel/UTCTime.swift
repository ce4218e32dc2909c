/// A UTC calendar time computed without Foundation (days-from-civil, Howard Hinnant's algorithm).
public struct UTCTime: Sendable, Hashable {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int
    public var millisecond: Int

    public init(millisecondsSinceEpoch: UInt64) {
        millisecond = Int(millisecondsSinceEpoch % 1000)
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

    /// ISO 8601 with milliseconds, `yyyy-MM-ddTHH:mm:ss.SSSZ`, as log lines carry it.
    public var iso8601Milliseconds: String {
        let ms = millisecond < 10 ? "00\(millisecond)" : millisecond < 100 ? "0\(millisecond)" : "\(millisecond)"
        return
            "\(year)-\(Self.two(month))-\(Self.two(day))T\(Self.two(hour)):\(Self.two(minute)):\(Self.two(second)).\(ms)Z"
    }

    /// ISO 8601, `yyyy-MM-ddTHH:mm:ssZ`.
    public var iso8601: String {
        "\(year)-\(Self.two(month))-\(Self.two(day))T\(Self.two(hour)):\(Self.two(minute)):\(Self.two(second))Z"
    }
}
