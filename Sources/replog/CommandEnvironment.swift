import NIOCore
import ReplogConfiguration

#if canImport(Glibc)
    import Glibc
#endif

/// Gives the options of the commands listed here their `REPLOG_<NAME>` environment variables and
/// `--config` file (or `REPLOG_CONFIG`), before the argument parser sees the command line.
enum CommandEnvironment {
    static let client = OptionSources(options: ClientOptions.optionNames, flags: ClientOptions.flagNames)

    /// Option sources of each subcommand that takes its options from the environment too.
    static let commands: [String: OptionSources] = [
        "append": client,
        "truncate": client,
        "status": client,
    ]

    /// `arguments` with environment and config-file settings added for the subcommand they name.
    static func resolve(_ arguments: [String], environment: [String: String]) throws -> [String] {
        guard let index = arguments.firstIndex(where: { !$0.hasPrefix("-") }),
            let sources = commands[arguments[index]]
        else { return arguments }
        let head = Array(arguments[...index])
        let rest = Array(arguments[(index + 1)...])
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
