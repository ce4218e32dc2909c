import Foundation

/// Runs the real `replog` binary that `swift build` put next to the test bundle.
enum ReplogProcess {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// The built `replog` executable: the test bundle lives in the same products directory.
    static var executable: URL {
        get throws {
            let candidates = [
                Bundle.main.executableURL?.deletingLastPathComponent(),
                Bundle.main.bundleURL.deletingLastPathComponent(),
                URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            ].compactMap { $0 }
            for directory in candidates {
                let url = directory.appendingPathComponent("replog")
                if FileManager.default.isExecutableFile(atPath: url.path) { return url }
            }
            throw CocoaError(
                .fileNoSuchFile,
                userInfo: [
                    NSLocalizedDescriptionKey: "replog binary not found near \(candidates); run swift build first"
                ]
            )
        }
    }

    /// Runs `replog arguments...` off the concurrency pool, so that servers running in this test
    /// process keep being served while the command waits for them.
    static func run(
        _ arguments: [String],
        environment: [String: String] = [:],
        stdin: Data? = nil,
        timeout: TimeInterval = 60
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Swift.Result {
                        try runBlocking(arguments, environment: environment, stdin: stdin, timeout: timeout)
                    }
                )
            }
        }
    }

    /// Runs `replog arguments...` to completion (at most `timeout` seconds) and captures its output.
    static func runBlocking(
        _ arguments: [String],
        environment: [String: String] = [:],
        stdin: Data? = nil,
        timeout: TimeInterval = 60
    ) throws -> Result {
        let process = Process()
        process.executableURL = try executable
        process.arguments = arguments
        // A clean environment: the test's own REPLOG_* variables must not leak in.
        var base = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("REPLOG_") }
        base.merge(environment) { $1 }
        process.environment = base
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        try process.run()
        if let stdin {
            input.fileHandleForWriting.write(stdin)
            try input.fileHandleForWriting.close()
        }
        // Read both pipes while the process runs so that a large output cannot block it, on
        // threads of their own for the same reason as above.
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outData = Data()
        nonisolated(unsafe) var errData = Data()
        Thread {
            outData = out.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }.start()
        Thread {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }.start()
        let deadline = DispatchTime.now() + timeout
        if done.wait(timeout: deadline) == .timedOut || done.wait(timeout: deadline) == .timedOut {
            process.terminate()
            process.waitUntilExit()
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "replog \(arguments) timed out"])
        }
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self)
        )
    }
}
