/// Durations as operators write them in flags: `500ms`, `30s`, `5m`, `1h`, `2d`, or several
/// together (`1h30m`).
enum DurationText {
    static func parse(_ text: String) -> Duration? {
        var total = Duration.zero
        var rest = Substring(text.filter { !$0.isWhitespace })
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard let value = Int64(digits), value <= 1_000_000_000 else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            switch unit {
            case "ms": total += .milliseconds(value)
            case "s": total += .seconds(value)
            case "m": total += .seconds(value * 60)
            case "h": total += .seconds(value * 3600)
            case "d": total += .seconds(value * 86_400)
            default: return nil
            }
        }
        return total
    }
}
