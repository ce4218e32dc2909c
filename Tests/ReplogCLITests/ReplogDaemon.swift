import Foundation
import NIOConcurrencyHelpers

/// A long-running `replog` process (a replica, a coordinator) started by a test, which must stop
/// it: `stop()` sends SIGTERM and waits, `kill()` sends SIGKILL.
final class ReplogDaemon: @unchecked Sendable {
    let process = Process()
    let logPath: String

    /// `environment` is added to the test's own, whose `REPLOG_*` variables are left out.
    init(_ arguments: [String], logPath: String, environment: [String: String] = [:]) throws {
        self.logPath = logPath
        process.executableURL = try ReplogProcess.executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("REPLOG_") }
            .merging(environment) { $1 }
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

/// Ports already handed out in this test process.
private let handedOut = NIOLockedValueBox<Set<Int>>([])

/// A TCP port on 127.0.0.1 that was free a moment ago, for processes that need their port on the
/// command line.
///
/// It comes from below Linux's ephemeral range (32768-60999): a port from that range could be
/// given to another test's `port 0` socket between this check and the process's own bind.
func freePort(in range: Range<Int> = 20000..<32000) throws -> Int {
    for _ in 0..<200 {
        let port = Int.random(in: range)
        guard handedOut.withLockedValue({ $0.insert(port).inserted }) else { continue }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if bound == 0 { return port }
    }
    throw CocoaError(.fileWriteUnknown)
}
