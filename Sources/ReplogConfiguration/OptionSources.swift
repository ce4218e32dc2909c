/// Lets every option of a command also come from an environment variable or a config file, so
/// that operators, systemd units and the compose file can each use what fits.
///
/// Precedence: the command line, then `REPLOG_<NAME>` environment variables, then the config
/// file. The result is a plain argument list for the command's parser, so validation and help
/// stay in one place.
public struct OptionSources: Sendable {
    /// Option names that take a value, without dashes (`listen`, `peers`, `log-level`).
    public var options: [String]
    /// Option names that are flags, without dashes (`auto-initialize`, `insecure`).
    public var flags: [String]

    public init(options: [String], flags: [String]) {
        self.options = options
        self.flags = flags
    }

    /// `REPLOG_` + the name in upper case with `-` as `_`: `auto-initialize` -> `REPLOG_AUTO_INITIALIZE`.
    public static func environmentName(_ option: String) -> String {
        "REPLOG_" + option.uppercased().replacingDashes()
    }

    /// `arguments` plus `--name value` (or `--name`) for every known option they leave unset and
    /// the environment or the config file sets.
    ///
    /// - Parameters:
    ///   - configFile: the config file's name and contents, if one was given.
    public func resolve(
        arguments: [String],
        environment: [String: String],
        configFile: (name: String, contents: String)? = nil
    ) throws(ConfigurationError) -> [String] {
        let fileSettings =
            try configFile.map { (file) throws(ConfigurationError) in try parse(file.contents, name: file.name) } ?? [:]
        var result = arguments
        for name in options + flags {
            guard !Self.commandLine(arguments, sets: name) else { continue }
            let isFlag = flags.contains(name)
            let source: (value: String, origin: String)
            if let value = environment[Self.environmentName(name)] {
                source = (value, "environment variable \(Self.environmentName(name))")
            } else if let setting = fileSettings[name] {
                source = (setting.value, "\(configFile!.name) line \(setting.line)")
            } else {
                continue
            }
            if isFlag {
                switch source.value.lowercased() {
                case "1", "true", "yes", "on": result.append("--\(name)")
                case "0", "false", "no", "off", "": continue
                default:
                    throw .invalidFlagValue(name: name, value: source.value, origin: source.origin)
                }
            } else {
                result.append("--\(name)")
                result.append(source.value)
            }
        }
        return result
    }

    /// The line up to a `#` that is not inside double quotes.
    static func withoutComment(_ line: Substring) -> Substring {
        var quoted = false
        for index in line.indices {
            switch line[index] {
            case "\"": quoted.toggle()
            case "#" where !quoted: return line[..<index]
            default: continue
            }
        }
        return line
    }

    static func commandLine(_ arguments: [String], sets name: String) -> Bool {
        arguments.contains { $0 == "--\(name)" || $0.hasPrefix("--\(name)=") }
    }

    /// Parses `key = value` lines; `#` starts a comment; values may be double-quoted.
    func parse(_ contents: String, name: String) throws(ConfigurationError) -> [String: (value: String, line: Int)] {
        var settings: [String: (value: String, line: Int)] = [:]
        for (index, raw) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let trimmed = Self.withoutComment(raw).trimmingSpaces()
            guard !trimmed.isEmpty else { continue }
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw .malformedLine(file: name, line: lineNumber, text: String(raw))
            }
            let key = trimmed[..<equals].trimmingSpaces()
            var value = trimmed[trimmed.index(after: equals)...].trimmingSpaces()
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            guard options.contains(key) || flags.contains(key) else {
                throw .unknownSetting(file: name, line: lineNumber, key: key, known: (options + flags).sorted())
            }
            if let earlier = settings[key] {
                throw .duplicateSetting(file: name, key: key, lines: (earlier.line, lineNumber))
            }
            settings[key] = (value, lineNumber)
        }
        return settings
    }
}

/// A configuration that cannot be used, with where it came from.
public enum ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    case malformedLine(file: String, line: Int, text: String)
    case unknownSetting(file: String, line: Int, key: String, known: [String])
    case duplicateSetting(file: String, key: String, lines: (Int, Int))
    case invalidFlagValue(name: String, value: String, origin: String)

    public static func == (lhs: ConfigurationError, rhs: ConfigurationError) -> Bool {
        lhs.description == rhs.description
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(description) }

    public var description: String {
        switch self {
        case .malformedLine(let file, let line, let text):
            return "\(file) line \(line): expected 'name = value', found '\(text)'"
        case .unknownSetting(let file, let line, let key, let known):
            return "\(file) line \(line): unknown setting '\(key)'; known settings: \(known.joined(separator: ", "))"
        case .duplicateSetting(let file, let key, let lines):
            return "\(file): '\(key)' is set twice, on lines \(lines.0) and \(lines.1); keep one"
        case .invalidFlagValue(let name, let value, let origin):
            return "\(origin) sets flag '\(name)' to '\(value)'; use true or false"
        }
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        String(
            drop(while: { $0 == " " || $0 == "\t" || $0 == "\r" }).reversed().drop(while: {
                $0 == " " || $0 == "\t" || $0 == "\r"
            }).reversed()
        )
    }

    func replacingDashes() -> String {
        String(map { $0 == "-" ? "_" : $0 })
    }
}
