import NIOCore
import ReplogConfiguration

#if canImport(Glibc)
    import Glibc
#endif

/// Gives the options of the commands listed here their `REPLOG_<NAME>` environment variables and
/// `--config` file (or `REPLOG_CONFIG`), before the argument parser sees the command line.
enum CommandEnvironment {
    static let client = OptionSources(options: ClientOptions.optionNames, flags: ClientOptions.flagNames)

    /// Option sources of each command path that takes its options from the environment too;
    /// `nil` marks a path that takes none (a sibling of a path that does).
    static let commands: [String: OptionSources?] = [
        "append": client,
        "truncate": client,
        "status": client,
        "read": client,
        "bench": client,
        "rehydrate": client,
        "backup create": client,
        "backup list": client,
        "backup show": client,
        "backup delete": client,
        "backup fetch": client,
        "backup verify": nil,
        "backup inspect": nil,
        "backup restore": client,
        "recovery": client,
        "bench cluster": client,
        "bench codec": nil,
        "bench rpc": nil,
        "bench storage": nil,
        "bench consensus": nil,
        "bench tls": nil,
        "replica": ReplicaCommand.optionSources,
        "coordinator": CoordinatorCommand.optionSources,
    ]

    /// `arguments` with environment and config-file settings added for the command they name.
    static func resolve(_ arguments: [String], environment: [String: String]) throws -> [String] {
        // The command path is the longest run of leading words that names a known command.
        let words = arguments.prefix { !$0.hasPrefix("-") }
        var length = words.count
        while length > 0, commands[words.prefix(length).joined(separator: " ")] == nil { length -= 1 }
        guard length > 0, let found = commands[words.prefix(length).joined(separator: " ")], let sources = found
        else { return arguments }
        let head = Array(arguments.prefix(length))
        let rest = Array(arguments.dropFirst(length))
        var configFile: (name: String, contents: String)?
        if let path = configPath(rest) ?? environment["REPLOG_CONFIG"] {
            configFile = (path, String(buffer: try readAll(path: path)))
        }
        return head + (try sources.resolve(arguments: rest, environment: environment, configFile: configFile))
    }

    static func configPath(_ arguments: [String]) -> String? {
        for (index, argument) in arguments.enumerated() {
            if argument == "--config", index + 1 < arguments.count { return arguments[index + 1] }
            if argument.hasPrefix("--config=") { return String(argument.dropFirst("--config=".count)) }
        }
        return nil
    }

    /// The process environment as a dictionary.
    static var processEnvironment: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}
