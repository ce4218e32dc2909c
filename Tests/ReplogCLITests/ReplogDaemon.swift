import Foundation

/// A long-running `replog` process (a replica, a coordinator) started by a test, which must stop
/// it: `stop()` sends SIGTERM and waits, `kill()` sends SIGKILL.
final class ReplogDaemon: @unchecked Sendable {
    let process = Process()
    let logPath: String

    init(_ arguments: [String], logPath: String) throws {
        self.logPath = logPath
        process.executableURL = try ReplogProcess.executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("REPLOG_") }
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends SIGTERM and waits (off the concurrency pool) up to `timeout` seconds for the exit;
    /// returns the exit status, or nil if it had to be killed.
    func stop(timeout: TimeInterval = 20) async -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        process.terminate()
        let exited = await Self.wait(for: process, timeout: timeout)
        if !exited { kill() }
        return exited ? process.terminationStatus : nil
    }

    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    static func wait(for process: Process, timeout: TimeInterval) async -> Bool {
        await withCheckedContinuation { continuation in
            Thread {
                let deadline = Date().addingTimeInterval(timeout)
                while process.isRunning && Date() < deadline { usleep(20_000) }
                continuation.resume(returning: !process.isRunning)
            }.start()
        }
    }

    deinit { kill() }
}

/// A TCP port that was free a moment ago on 127.0.0.1.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw CocoaError(.fileWriteUnknown) }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
