public import ReplogModel

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a replica must remember besides its actions: who it is and what it promised.
///
/// Replaced as a whole and atomically (temporary file, fsync, rename, fsync of the directory),
/// so after a crash the file holds either the old or the new value, never a mix.
public struct StoreMetadata: Sendable, Hashable {
    /// The on-disk format this code writes and reads.
    public static let currentFormatVersion: UInt32 = 1

    public var status: ReplicaStatus
    /// The highest proposal promised for the whole log (implicit promise).
    public var promised: Proposal
    /// The cluster this replica belongs to, once known.
    public var clusterID: ClusterID?
    /// This replica's id within its cluster (0 until assigned).
    public var replicaID: UInt64
    /// The format version the store was written with.
    public internal(set) var formatVersion: UInt32

    public init(
        status: ReplicaStatus = .empty,
        promised: Proposal = 0,
        clusterID: ClusterID? = nil,
        replicaID: UInt64 = 0
    ) {
        self.status = status
        self.promised = promised
        self.clusterID = clusterID
        self.replicaID = replicaID
        self.formatVersion = Self.currentFormatVersion
    }
}

/// The 64-byte METADATA file.
///
/// ```
/// 0  magic "RPLGMETA"   8   version u32   12 status u8   13 flags u8 (1 = has cluster id)
/// 14 reserved u16       16  promised u64  24 cluster high u64   32 cluster low u64
/// 40 replica id u64     48  reserved 8    56 crc32c of [0, 56) u32   60 reserved u32
/// ```
enum MetadataFile {
    static let name = "METADATA"
    static let temporaryName = "METADATA.tmp"
    static let size = 64
    static let magic: [UInt8] = Array("RPLGMETA".utf8)

    static func encode(_ metadata: StoreMetadata) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: size)
        bytes.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress!
            base.copyMemory(from: magic, byteCount: 8)
            RecordFormat.store(StoreMetadata.currentFormatVersion, at: 8, in: base)
            base.storeBytes(of: metadata.status.rawValue, toByteOffset: 12, as: UInt8.self)
            base.storeBytes(of: metadata.clusterID == nil ? 0 : 1, toByteOffset: 13, as: UInt8.self)
            RecordFormat.store(metadata.promised, at: 16, in: base)
            RecordFormat.store(metadata.clusterID?.high ?? 0, at: 24, in: base)
            RecordFormat.store(metadata.clusterID?.low ?? 0, at: 32, in: base)
            RecordFormat.store(metadata.replicaID, at: 40, in: base)
            let crc = replogCRC(UnsafeRawBufferPointer(start: base, count: 56))
            RecordFormat.store(crc, at: 56, in: base)
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8], path: String) throws -> StoreMetadata {
        guard bytes.count >= 12, Array(bytes[0..<8]) == magic else {
            throw StorageError.corruptMetadata(path: path, reason: "not a replog metadata file (bad magic)")
        }
        return try bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress!
            let version = RecordFormat.load32(base, 8)
            guard version == StoreMetadata.currentFormatVersion else {
                throw StorageError.unsupportedFormatVersion(
                    path: path,
                    found: version,
                    supported: StoreMetadata.currentFormatVersion
                )
            }
            guard bytes.count == size else {
                throw StorageError.corruptMetadata(path: path, reason: "\(bytes.count) bytes instead of \(size)")
            }
            guard replogCRC(UnsafeRawBufferPointer(start: base, count: 56)) == RecordFormat.load32(base, 56) else {
                throw StorageError.corruptMetadata(path: path, reason: "checksum mismatch")
            }
            guard let status = ReplicaStatus(rawValue: base.load(fromByteOffset: 12, as: UInt8.self)) else {
                throw StorageError.corruptMetadata(path: path, reason: "unknown replica status")
            }
            let hasCluster = base.load(fromByteOffset: 13, as: UInt8.self) == 1
            return StoreMetadata(
                status: status,
                promised: RecordFormat.load64(base, 16),
                clusterID: hasCluster
                    ? ClusterID(high: RecordFormat.load64(base, 24), low: RecordFormat.load64(base, 32)) : nil,
                replicaID: RecordFormat.load64(base, 40)
            )
        }
    }

    static func read(directory: String) throws -> StoreMetadata? {
        let path = directory + "/" + name
        guard FileIO.exists(path).exists else { return nil }
        let fd = try FileIO.openFile(path, O_RDONLY)
        defer { close(fd) }
        let length = try FileIO.fileSize(fd, path: path)
        var bytes = [UInt8](repeating: 0, count: min(length, 4096))
        let count = try bytes.withUnsafeMutableBytes { try FileIO.preadAll(fd, $0, at: 0, path: path) }
        return try decode(Array(bytes[0..<count]), path: path)
    }

    /// Replaces the metadata file atomically and durably.
    static func write(_ metadata: StoreMetadata, directory: String, failpoint: StorageFailpoint?) throws {
        let temporary = directory + "/" + temporaryName
        let final = directory + "/" + name
        let fd = try FileIO.openFile(temporary, O_WRONLY | O_CREAT | O_TRUNC)
        do {
            try encode(metadata).withUnsafeBytes {
                try FileIO.pwriteAll(fd, $0, at: 0, path: temporary, failpoint: failpoint)
            }
            try FileIO.fullSync(fd, path: temporary, failpoint: failpoint)
        } catch {
            close(fd)
            try? FileIO.removeFile(temporary)
            throw error
        }
        close(fd)
        try FileIO.renameFile(temporary, final, failpoint: failpoint)
        try FileIO.fsyncDirectory(directory, failpoint: failpoint)
    }
}
