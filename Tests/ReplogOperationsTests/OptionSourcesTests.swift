import ReplogConfiguration
import Testing

@Suite struct OptionSourcesTests {
    let sources = OptionSources(options: ["listen", "peers", "log-level"], flags: ["auto-initialize", "insecure"])

    @Test func commandLineWinsOverEnvironmentWhichWinsOverTheFile() throws {
        let file = (
            name: "/etc/replog/replica.conf",
            contents: """
            # replica settings
            listen = 0.0.0.0:7000
            peers = "r1=10.0.0.1:7000,r2=10.0.0.2:7000"   # quoted values are unquoted
            log-level = debug
            auto-initialize = true
            """
        )
        let resolved = try sources.resolve(
            arguments: ["--listen=127.0.0.1:9000"],
            environment: ["REPLOG_LOG_LEVEL": "warning", "REPLOG_INSECURE": "false", "HOME": "/root"],
            configFile: file
        )
        #expect(
            resolved == [
                "--listen=127.0.0.1:9000", "--peers", "r1=10.0.0.1:7000,r2=10.0.0.2:7000", "--log-level", "warning",
                "--auto-initialize",
            ]
        )
    }

    @Test func environmentNamesAreUpperSnakeCase() {
        #expect(OptionSources.environmentName("auto-initialize") == "REPLOG_AUTO_INITIALIZE")
        #expect(OptionSources.environmentName("listen") == "REPLOG_LISTEN")
    }

    @Test func badConfigurationSaysWhereAndWhat() {
        #expect(
            throws: ConfigurationError.unknownSetting(
                file: "c",
                line: 2,
                key: "lisen",
                known: ["auto-initialize", "insecure", "listen", "log-level", "peers"]
            )
        ) {
            try sources.resolve(arguments: [], environment: [:], configFile: ("c", "\nlisen = x"))
        }
        #expect(throws: ConfigurationError.malformedLine(file: "c", line: 1, text: "listen 0.0.0.0")) {
            try sources.resolve(arguments: [], environment: [:], configFile: ("c", "listen 0.0.0.0"))
        }
        #expect(throws: ConfigurationError.duplicateSetting(file: "c", key: "listen", lines: (1, 3))) {
            try sources.resolve(arguments: [], environment: [:], configFile: ("c", "listen = a\n\nlisten = b"))
        }
        #expect(
            throws: ConfigurationError.invalidFlagValue(
                name: "insecure",
                value: "maybe",
                origin: "environment variable REPLOG_INSECURE"
            )
        ) {
            try sources.resolve(arguments: [], environment: ["REPLOG_INSECURE": "maybe"])
        }
    }
}
