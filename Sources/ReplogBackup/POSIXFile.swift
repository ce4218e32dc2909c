#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few POSIX file operations backups need, with errors that name the file and the errno text.
final class POSIXFile {
    let descriptor: CInt
    let path: String

    private init(descriptor: CInt, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    static func error(_ path: String, _ operation: String) -> BackupError {
        .io(path: path, operation: operation, message: String(cString: strerror(errno)))
    }

    /// Creates `path`, failing if it exists (so no backup is ever overwritten), mode 0600.
    static func createExclusive(_ path: String) throws(BackupError) -> POSIXFile {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { throw .alreadyExists(path: path) }
            throw error(path, "create")
        }
        return POSIXFile(descriptor: fd, path: path)
    }

    static func openForReading(_ path: String) throws(BackupError) -> POSIXFile {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw .notFound(path: path) }
            throw error(path, "open")
        }
        return POSIXFile(descriptor: fd, path: path)
    }

    func writeAll(_ bytes: UnsafeRawBufferPointer) throws(BackupError) {
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw Self.error(path, "write")
            }
            offset += written
        }
    }

    func writeAll(_ bytes: [UInt8]) throws(BackupError) {
        var copy = bytes
        let count = copy.count
        var offset = 0
        while offset < count {
            let written = copy.withUnsafeMutableBytes { write(descriptor, $0.baseAddress! + offset, count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                throw Self.error(path, "write")
            }
            offset += written
        }
    }

    /// Reads up to `count` bytes into `into`; returns 0 at end of file.
    func read(into pointer: UnsafeMutableRawBufferPointer) throws(BackupError) -> Int {
        while true {
            let count = Glibc.read(descriptor, pointer.baseAddress, pointer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw Self.error(path, "read")
            }
            return count
        }
    }

    /// Reads up to `pointer.count` bytes at `offset` (without moving the file position); returns
    /// fewer only at the end of the file.
    func read(into pointer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BackupError) -> Int {
        var done = 0
        while done < pointer.count {
            let count = pread(
                descriptor,
                pointer.baseAddress! + done,
                pointer.count - done,
                off_t(offset) + off_t(done)
            )
            if count < 0 {
                if errno == EINTR { continue }
                throw Self.error(path, "read")
            }
            if count == 0 { break }
            done += count
        }
        return done
    }

    func sync() throws(BackupError) {
        guard fsync(descriptor) == 0 else { throw Self.error(path, "fsync") }
    }

    func size() throws(BackupError) -> UInt64 {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw Self.error(path, "stat") }
        return UInt64(info.st_size)
    }

    deinit { close(descriptor) }

    /// Makes a rename or unlink in `directory` durable.
    static func syncDirectory(_ directory: String) throws(BackupError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw error(directory, "open directory") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw error(directory, "fsync directory") }
    }

    static func rename(_ from: String, to: String) throws(BackupError) {
        guard Glibc.rename(from, to) == 0 else { throw error(from, "rename to \(to)") }
    }

    static func remove(_ path: String) throws(BackupError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw error(path, "delete") }
    }

    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// The names in `directory` (not `.` and `..`).
    static func list(_ directory: String) throws(BackupError) -> [String] {
        guard let dir = opendir(directory) else { throw error(directory, "list") }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
