#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

func errorText(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// Thin wrappers over POSIX file calls that retry on EINTR and turn failures into `StorageError`.
/// The calls that change files first ask the store's failpoint (tests only; see ``StorageFailpoint``).
enum FileIO {
    static func isFull(_ code: Int32) -> Bool {
        code == ENOSPC || code == EFBIG || code == EDQUOT
    }

    static func error(_ operation: String, _ path: String, _ code: Int32 = errno) -> StorageError {
        isFull(code) ? .diskFull(path: path, errno: code) : .io(operation: operation, path: path, errno: code)
    }

    static func openFile(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) throws -> Int32 {
        while true {
            let fd = open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return fd }
            if errno != EINTR { throw error("open", path) }
        }
    }

    static func pwriteAll(
        _ fd: Int32,
        _ bytes: UnsafeRawBufferPointer,
        at offset: Int,
        path: String,
        failpoint: StorageFailpoint?
    ) throws {
        let fault = failpoint?(.write(path: path, offset: offset, bytes: bytes.count))
        let count = fault.map { min(max($0.written, 0), bytes.count) } ?? bytes.count
        var done = 0
        while done < count {
            let n = pwrite(fd, bytes.baseAddress! + done, count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw error("write", path)
            }
            done += n
        }
        if let fault { throw error("write", path, fault.errno) }
    }

    /// Writes the iovecs back to back at `offset`, looping over short writes and IOV_MAX.
    static func pwritevAll(_ fd: Int32, _ vectors: [iovec], at offset: Int, path: String, failpoint: StorageFailpoint?)
        throws
    {
        var vectors = vectors
        let fault = failpoint?(.write(path: path, offset: offset, bytes: vectors.reduce(0) { $0 + $1.iov_len }))
        if let fault {
            // Keep only the first `written` bytes: they reach the file, the rest never does.
            var left = max(fault.written, 0)
            var kept: [iovec] = []
            for var vector in vectors where left > 0 {
                vector.iov_len = min(vector.iov_len, left)
                left -= vector.iov_len
                kept.append(vector)
            }
            vectors = kept
        }
        var index = 0
        var position = offset
        while index < vectors.count {
            let count = min(vectors.count - index, 1024)
            let n = vectors.withUnsafeBufferPointer { all in
                pwritev(fd, all.baseAddress! + index, Int32(count), off_t(position))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw error("write", path)
            }
            position += n
            var left = n
            while left > 0 && index < vectors.count {
                let length = vectors[index].iov_len
                if left >= length {
                    left -= length
                    index += 1
                } else {
                    vectors[index].iov_base = vectors[index].iov_base! + left
                    vectors[index].iov_len = length - left
                    left = 0
                }
            }
            while index < vectors.count && vectors[index].iov_len == 0 { index += 1 }
        }
        if let fault { throw error("write", path, fault.errno) }
    }

    static func preadAll(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int, path: String) throws
        -> Int
    {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw error("read", path)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    static func dataSync(_ fd: Int32, path: String, failpoint: StorageFailpoint?) throws {
        if let fault = failpoint?(.sync(path: path)) { throw error("fdatasync", path, fault.errno) }
        #if canImport(Darwin)
            let result = fcntl(fd, F_FULLFSYNC)
        #else
            let result = fdatasync(fd)
        #endif
        if result != 0 { throw error("fdatasync", path) }
    }

    static func fullSync(_ fd: Int32, path: String, failpoint: StorageFailpoint?) throws {
        if let fault = failpoint?(.sync(path: path)) { throw error("fsync", path, fault.errno) }
        if fsync(fd) != 0 { throw error("fsync", path) }
    }

    static func fsyncDirectory(_ path: String, failpoint: StorageFailpoint?) throws {
        let fd = try openFile(path, O_RDONLY | O_DIRECTORY)
        defer { close(fd) }
        try fullSync(fd, path: path, failpoint: failpoint)
    }

    static func fileSize(_ fd: Int32, path: String) throws -> Int {
        var info = stat()
        if fstat(fd, &info) != 0 { throw error("stat", path) }
        return Int(info.st_size)
    }

    static func exists(_ path: String) -> (exists: Bool, isDirectory: Bool) {
        var info = stat()
        if stat(path, &info) != 0 { return (false, false) }
        return (true, (info.st_mode & S_IFMT) == S_IFDIR)
    }

    static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw error("opendir", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Creates `path` and any missing parents, and makes the new entries durable.
    static func makeDirectory(_ path: String) throws {
        if exists(path).isDirectory { return }
        var parent = String(path.reversed().drop(while: { $0 == "/" }).drop(while: { $0 != "/" }).reversed())
        while parent.count > 1 && parent.hasSuffix("/") { parent.removeLast() }
        if !parent.isEmpty && parent != path { try makeDirectory(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw error("mkdir", path) }
        try? fsyncDirectory(parent.isEmpty ? "." : parent, failpoint: nil)
    }

    static func removeFile(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT { throw error("unlink", path) }
    }

    static func renameFile(_ from: String, _ to: String, failpoint: StorageFailpoint?) throws {
        if let fault = failpoint?(.rename(to: to)) { throw error("rename", to, fault.errno) }
        if rename(from, to) != 0 { throw error("rename", to) }
    }

    /// Reserves `size` bytes of disk for the file so later writes cannot fail for lack of space.
    static func allocate(_ fd: Int32, size: Int, path: String, failpoint: StorageFailpoint?) throws {
        if let fault = failpoint?(.allocate(path: path, bytes: size)) { throw error("fallocate", path, fault.errno) }
        #if canImport(Darwin)
            if ftruncate(fd, off_t(size)) != 0 { throw error("ftruncate", path) }
        #else
            let result = posix_fallocate(fd, 0, off_t(size))
            if result != 0 { throw error("fallocate", path, result) }
        #endif
    }

    /// Writes zeros over `[offset, offset + length)` so the blocks are allocated and initialized.
    static func writeZeros(_ fd: Int32, from offset: Int, length: Int, path: String, failpoint: StorageFailpoint?)
        throws
    {
        let chunk = 1 << 20
        let zeros = UnsafeMutableRawBufferPointer.allocate(byteCount: min(chunk, max(length, 1)), alignment: 4096)
        defer { zeros.deallocate() }
        zeros.initializeMemory(as: UInt8.self, repeating: 0)
        var done = 0
        while done < length {
            let n = min(zeros.count, length - done)
            try pwriteAll(
                fd,
                UnsafeRawBufferPointer(rebasing: zeros[0..<n]),
                at: offset + done,
                path: path,
                failpoint: failpoint
            )
            done += n
        }
    }
}
