#if canImport(Glibc)
    internal import Glibc
#endif

/// The few file operations certificates need, on POSIX calls so that modes and atomic replacement
/// are under our control.
enum FileIO {
    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func readText(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CertificateError.io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw CertificateError.io(path: path, operation: "read", errno: errno)
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > 1 << 20 {
                throw CertificateError.io(path: path, operation: "read (over 1 MiB)", errno: EFBIG)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes `text` to `path` through a temporary file and a rename, so that a reader (a reloading
    /// server) sees the old or the new file, never a half-written one.
    static func writeAtomically(_ text: String, to path: String, mode: mode_t) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw CertificateError.io(path: temporary, operation: "create", errno: errno) }
        // The umask must not widen or narrow what we ask for.
        fchmod(fd, mode)
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 {
                if errno == EINTR { continue }
                let code = errno
                close(fd)
                unlink(temporary)
                throw CertificateError.io(path: temporary, operation: "write", errno: code)
            }
            offset += count
        }
        if fsync(fd) != 0 {
            let code = errno
            close(fd)
            unlink(temporary)
            throw CertificateError.io(path: temporary, operation: "fsync", errno: code)
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw CertificateError.io(path: path, operation: "rename into place", errno: code)
        }
    }

    static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw CertificateError.io(path: path, operation: "create directory", errno: errno)
        }
    }

    /// Seconds since the epoch of the last modification, or nil when the file is missing.
    static func modificationStamp(_ path: String) -> (Int, Int, Int)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (info.st_mtim.tv_sec, info.st_mtim.tv_nsec, Int(info.st_ino))
    }
}

/// Formatting epoch seconds as UTC text without Foundation.
public enum UTCTime {
    /// `2026-11-23 12:00:00 UTC`.
    public static func format(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        var text = [CChar](repeating: 0, count: 64)
        let count = strftime(&text, text.count, "%Y-%m-%d %H:%M:%S UTC", &parts)
        return String(decoding: text[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The current time in epoch seconds.
    public static func now() -> Int64 { Int64(time(nil)) }
}
