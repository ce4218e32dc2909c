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

    /// The command lines of running processes that mention `text` (from /proc), other than ours.
    static func pgrep(_ text: String) async throws -> [String] {
        let own = ProcessInfo.processInfo.processIdentifier
        var found: [String] = []
        for entry in try FileManager.default.contentsOfDirectory(atPath: "/proc") {
            guard let pid = Int32(entry), pid != own,
                let raw = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { continue }
            let line = String(decoding: raw.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            if line.contains(text) && !line.isEmpty { found.append(line) }
        }
        return found
    }

    /// GETs `url` with a bare HTTP/1.1 request over a socket; returns the body, or nil when
    /// nothing answers. (Foundation's URLSession needs libcurl, which a fresh machine may lack.)
    static func curl(_ url: URL) async throws -> String? {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(
                    with: Swift.Result { httpGet(host: url.host ?? "127.0.0.1", port: url.port ?? 80, path: url.path) }
                )
            }.start()
        }
    }

    static func httpGet(host: String, port: Int, path: String) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host)
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { return nil }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += chunk[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        return String(text[split.upperBound...])
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
