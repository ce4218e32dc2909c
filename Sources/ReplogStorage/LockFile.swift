import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `LOCK` file of a store directory: an exclusive `flock` held while the store is open, with
/// the holder's pid written inside so a second opener can say who holds it.
///
/// `flock` locks belong to the open file description, so the lock disappears when the holder dies
/// (even by SIGKILL) and a second open in the same process is refused too.
final class LockFile: Sendable {
    static let name = "LOCK"
    let path: String
    private let fd: NIOLockedValueBox<Int32>

    private let shared: Bool

    /// Takes the lock; `shared` locks (read-only openers) coexist with each other but not with a writer.
    init(directory: String, shared: Bool = false) throws {
        let path = directory + "/" + Self.name
        let fd = try FileIO.openFile(path, O_RDWR | O_CREAT)
        if !Self.lock(fd, shared: shared) {
            let code = errno
            defer { close(fd) }
            if code == EWOULDBLOCK {
                throw StorageError.locked(directory: directory, pid: Self.readPID(fd))
            }
            throw FileIO.error("flock", path, code)
        }
        self.path = path
        self.shared = shared
        self.fd = NIOLockedValueBox(fd)
        if shared { return }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        try text.withUnsafeBytes { try FileIO.pwriteAll(fd, $0, at: 0, path: path, failpoint: nil) }
    }

    /// Tries for about a second: a process this one just spawned shares the lock's file description
    /// until its exec closes it (longer on a loaded machine), which would otherwise look like a
    /// second holder for an instant.
    private static func lock(_ fd: Int32, shared: Bool) -> Bool {
        for _ in 0..<200 {
            if flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) == 0 { return true }
            if errno != EWOULDBLOCK { return false }
            usleep(5_000)
        }
        return false
    }

    private static func readPID(_ fd: Int32) -> Int32? {
        var bytes = [UInt8](repeating: 0, count: 32)
        guard let count = try? bytes.withUnsafeMutableBytes({ try FileIO.preadAll(fd, $0, at: 0, path: "") }) else {
            return nil
        }
        let text = String(decoding: bytes[0..<count], as: UTF8.self)
        return Int32(text.trimmingCharacters(in: "\n "))
    }

    func release() {
        fd.withLockedValue { fd in
            guard fd >= 0 else { return }
            if !shared { _ = ftruncate(fd, 0) }
            close(fd)  // closing drops the flock
            fd = -1
        }
    }

    deinit { release() }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var scalars = Substring(self)
        while let first = scalars.first, set.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, set.contains(last) { scalars.removeLast() }
        return String(scalars)
    }
}
