#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One segment file: `<20-digit number>.segment`, preallocated, starting with a 32-byte header.
///
/// ```
/// 0 magic "RPLGSEG1"  8 format version u32  12 reserved u32  16 segment number u64
/// 24 crc32c of [0, 24) u32   28 reserved u32
/// ```
/// Readers share the descriptor; it is closed when the last reference goes, so deleting a segment
/// while a read is in progress is safe.
final class SegmentFile: Sendable {
    static let headerSize = 32
    static let suffix = ".segment"
    static let magic: [UInt8] = Array("RPLGSEG1".utf8)

    let number: UInt64
    let path: String
    let fd: Int32

    init(number: UInt64, path: String, fd: Int32) {
        self.number = number
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    static func fileName(_ number: UInt64) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    static func number(ofFileName name: String) -> UInt64? {
        guard name.hasSuffix(suffix) else { return nil }
        let digits = name.dropLast(suffix.count)
        guard digits.count == 20, digits.allSatisfy(\.isASCII) else { return nil }
        return UInt64(digits)
    }

    static func header(number: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: headerSize)
        bytes.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress!
            base.copyMemory(from: magic, byteCount: 8)
            RecordFormat.store(StoreMetadata.currentFormatVersion, at: 8, in: base)
            RecordFormat.store(number, at: 16, in: base)
            RecordFormat.store(replogCRC(UnsafeRawBufferPointer(start: base, count: 24)), at: 24, in: base)
        }
        return bytes
    }

    /// Checks a segment header; returns nil when it is valid for segment `number`.
    static func headerProblem(_ bytes: UnsafeRawBufferPointer, number: UInt64, path: String) -> StorageError? {
        guard bytes.count >= headerSize, let base = bytes.baseAddress,
            Array(UnsafeRawBufferPointer(start: base, count: 8)) == magic
        else {
            return .corruption([CorruptionReport(segment: path, offset: 0, length: headerSize)])
        }
        let version = RecordFormat.load32(base, 8)
        if version != StoreMetadata.currentFormatVersion {
            return .unsupportedFormatVersion(path: path, found: version, supported: StoreMetadata.currentFormatVersion)
        }
        guard replogCRC(UnsafeRawBufferPointer(start: base, count: 24)) == RecordFormat.load32(base, 24),
            RecordFormat.load64(base, 16) == number
        else {
            return .corruption([CorruptionReport(segment: path, offset: 0, length: headerSize)])
        }
        return nil
    }

    /// Creates segment `number` under a temporary name, preallocates it, makes it durable and
    /// renames it into place, so a crash never leaves a half-made segment under a real name.
    static func create(
        number: UInt64,
        directory: String,
        size: Int,
        zeroFill: Bool,
        failpoint: StorageFailpoint?
    ) throws -> SegmentFile {
        let path = directory + "/" + fileName(number)
        let temporary = path + ".tmp"
        let fd = try FileIO.openFile(temporary, O_RDWR | O_CREAT | O_TRUNC)
        do {
            try FileIO.allocate(fd, size: size, path: temporary, failpoint: failpoint)
            if zeroFill {
                try FileIO.writeZeros(
                    fd,
                    from: headerSize,
                    length: size - headerSize,
                    path: temporary,
                    failpoint: failpoint
                )
            }
            try header(number: number).withUnsafeBytes {
                try FileIO.pwriteAll(fd, $0, at: 0, path: temporary, failpoint: failpoint)
            }
            try FileIO.fullSync(fd, path: temporary, failpoint: failpoint)
            try FileIO.renameFile(temporary, path, failpoint: failpoint)
            try FileIO.fsyncDirectory(directory, failpoint: failpoint)
        } catch {
            close(fd)
            try? FileIO.removeFile(temporary)
            throw error
        }
        return SegmentFile(number: number, path: path, fd: fd)
    }
}
