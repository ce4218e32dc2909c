public import NIOCore
public import ReplogModel

// The backup operations of the leading coordinator (type codes 0x50-0x5F), as `Protocol/SPEC.md`
// section 5.4 lays them out.

/// Where a backup stands, as `replog backup show` reports it (DC/OS's names).
public enum BackupStatus: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Being written; the counts and size grow as it goes.
    case backingUp = 1
    /// Complete, checksummed and durable: it can be fetched and restored.
    case ready = 2
    /// Taking it failed; `reason` says why. Nothing of it is left on disk.
    case error = 3
    /// Being restored into the live log: staged (`replog recovery stage`, `replog backup restore`)
    /// until its commit has finished or it is unloaded.
    case restoring = 4

    public var description: String {
        switch self {
        case .backingUp: "STATUS_BACKING_UP"
        case .ready: "STATUS_READY"
        case .error: "STATUS_ERROR"
        case .restoring: "STATUS_RESTORING"
        }
    }
}

/// One backup as the leading coordinator knows it.
public struct BackupInfo: Sendable, Hashable {
    public var id: String
    /// The operator's label; empty for scheduled backups.
    public var label: String
    public var status: BackupStatus
    /// Why the backup failed (``BackupStatus/error``); empty otherwise.
    public var reason: String
    /// When the backup was started, in milliseconds since the Unix epoch (UTC).
    public var createdAtMilliseconds: UInt64
    /// The log's first position and the fixed position the backup is taken up to (inclusive).
    public var firstPosition: Position
    public var lastPosition: Position
    /// Entries and entry bytes written so far (all of them once ready).
    public var entryCount: UInt64
    public var entryBytes: UInt64
    /// The file's size in bytes (so far, while backing up).
    public var size: UInt64
    /// The SHA-256 recorded in the file's trailer: 32 bytes once ready, empty before.
    public var sha256: [UInt8]

    public init(
        id: String,
        label: String,
        status: BackupStatus,
        reason: String = "",
        createdAtMilliseconds: UInt64,
        firstPosition: Position,
        lastPosition: Position,
        entryCount: UInt64,
        entryBytes: UInt64,
        size: UInt64,
        sha256: [UInt8] = []
    ) {
        self.id = id
        self.label = label
        self.status = status
        self.reason = reason
        self.createdAtMilliseconds = createdAtMilliseconds
        self.firstPosition = firstPosition
        self.lastPosition = lastPosition
        self.entryCount = entryCount
        self.entryBytes = entryBytes
        self.size = size
        self.sha256 = sha256
    }
}

/// Takes a backup now, labelled `label` (3 to 25 characters of `[A-Za-z0-9_.-]`, not starting
/// with `..`). Answered with the new backup's ``BackupInfo`` as soon as its range is fixed.
public struct BackupCreateRequest: Sendable, Hashable {
    public var label: String
    public init(label: String) { self.label = label }
}

/// Lists the backups, only those labelled `label` unless it is empty.
public struct BackupListRequest: Sendable, Hashable {
    public var label: String
    public init(label: String = "") { self.label = label }
}

/// The backups, oldest first.
public struct BackupListResponse: Sendable, Hashable {
    public var backups: [BackupInfo]
    public init(backups: [BackupInfo]) { self.backups = backups }
}

/// Names one backup (show and delete requests, and the delete's answer).
public struct BackupReference: Sendable, Hashable {
    public var id: String
    public init(id: String) { self.id = id }
}

/// Asks for the bytes of a ready backup's file from `offset`, at most `maxBytes` of them.
public struct BackupFetchRequest: Sendable, Hashable {
    public var id: String
    public var offset: UInt64
    public var maxBytes: UInt32
    public init(id: String, offset: UInt64, maxBytes: UInt32) {
        self.id = id
        self.offset = offset
        self.maxBytes = maxBytes
    }
}

/// Bytes `offset ..< offset + data.count` of a backup file of `size` bytes.
public struct BackupFetchResponse: Sendable, Hashable {
    public var offset: UInt64
    public var size: UInt64
    public var data: ByteBuffer
    public init(offset: UInt64, size: UInt64, data: ByteBuffer) {
        self.offset = offset
        self.size = size
        self.data = data
    }
}

// MARK: Encoding

extension ByteBuffer {
    @usableFromInline
    mutating func writeBackupInfo(_ info: BackupInfo) {
        writeWireString(info.id)
        writeWireString(info.label)
        writeInteger(info.status.rawValue)
        writeWireString(info.reason)
        writeMultipleIntegers(
            info.createdAtMilliseconds,
            info.firstPosition,
            info.lastPosition,
            info.entryCount,
            info.entryBytes,
            info.size
        )
        writeInteger(UInt32(info.sha256.count))
        writeBytes(info.sha256)
    }
}

extension PayloadReader {
    /// The smallest encoded ``BackupInfo``: three empty strings, the status, six u64 and an empty digest.
    @usableFromInline static let minimumBackupInfoSize = 2 + 2 + 1 + 2 + 6 * 8 + 4

    @usableFromInline
    mutating func readBackupInfo() throws(WireError) -> BackupInfo {
        let id = try readString("backup.id", maxLength: WireLimits.maxIdentifierLength)
        let label = try readString("backup.label", maxLength: WireLimits.maxIdentifierLength)
        let status = try readEnum("backup.status", as: BackupStatus.self)
        let reason = try readString("backup.reason", maxLength: WireLimits.maxErrorTextLength)
        let (created, first, last, count, bytes, size) = (
            try readInteger("backup.createdAt", as: UInt64.self),
            try readInteger("backup.firstPosition", as: UInt64.self),
            try readInteger("backup.lastPosition", as: UInt64.self),
            try readInteger("backup.entryCount", as: UInt64.self),
            try readInteger("backup.entryBytes", as: UInt64.self),
            try readInteger("backup.size", as: UInt64.self)
        )
        let digestOffset = offset
        let length: UInt32 = try readInteger("backup.sha256")
        guard length == 0 || length == 32 else {
            throw invalid("backup.sha256", "a SHA-256 is 32 bytes (or empty), not \(length)", at: digestOffset)
        }
        guard let digest = buffer.readBytes(length: Int(length)) else {
            throw truncated("backup.sha256", needed: Int(length))
        }
        return BackupInfo(
            id: id,
            label: label,
            status: status,
            reason: reason,
            createdAtMilliseconds: created,
            firstPosition: first,
            lastPosition: last,
            entryCount: count,
            entryBytes: bytes,
            size: size,
            sha256: digest
        )
    }
}

extension Message {
    /// Whether this is one of the backup requests (0x50-0x5F) a coordinator's backup service answers.
    public var isBackupRequest: Bool {
        switch self {
        case .backupCreateRequest, .backupListRequest, .backupShowRequest, .backupDeleteRequest, .backupFetchRequest:
            return true
        default:
            return false
        }
    }

    @usableFromInline
    func encodeBackupPayload(into buffer: inout ByteBuffer) {
        switch self {
        case .backupCreateRequest(let m):
            buffer.writeWireString(m.label)
        case .backupCreateResponse(let m), .backupShowResponse(let m):
            buffer.writeBackupInfo(m)
        case .backupListRequest(let m):
            buffer.writeWireString(m.label)
        case .backupListResponse(let m):
            buffer.writeInteger(UInt32(m.backups.count))
            for backup in m.backups { buffer.writeBackupInfo(backup) }
        case .backupShowRequest(let m), .backupDeleteRequest(let m), .backupDeleteResponse(let m):
            buffer.writeWireString(m.id)
        case .backupFetchRequest(let m):
            buffer.writeWireString(m.id)
            buffer.writeMultipleIntegers(m.offset, m.maxBytes)
        case .backupFetchResponse(let m):
            buffer.writeMultipleIntegers(m.offset, m.size)
            buffer.writeWireBytes(m.data)
        default:
            preconditionFailure("\(type) is not a backup message")
        }
    }

    @usableFromInline
    static func decodeBackup(_ type: MessageType, from r: inout PayloadReader) throws(WireError) -> Message {
        switch type {
        case .backupCreateRequest:
            return .backupCreateRequest(
                BackupCreateRequest(label: try r.readString("label", maxLength: WireLimits.maxIdentifierLength))
            )
        case .backupCreateResponse:
            return .backupCreateResponse(try r.readBackupInfo())
        case .backupListRequest:
            return .backupListRequest(
                BackupListRequest(label: try r.readString("label", maxLength: WireLimits.maxIdentifierLength))
            )
        case .backupListResponse:
            let count = try r.readCount("backups", minimumElementSize: PayloadReader.minimumBackupInfoSize)
            var backups: [BackupInfo] = []
            backups.reserveCapacity(count)
            for _ in 0..<count { backups.append(try r.readBackupInfo()) }
            return .backupListResponse(BackupListResponse(backups: backups))
        case .backupShowRequest:
            return .backupShowRequest(try r.readBackupReference())
        case .backupShowResponse:
            return .backupShowResponse(try r.readBackupInfo())
        case .backupDeleteRequest:
            return .backupDeleteRequest(try r.readBackupReference())
        case .backupDeleteResponse:
            return .backupDeleteResponse(try r.readBackupReference())
        case .backupFetchRequest:
            return .backupFetchRequest(
                BackupFetchRequest(
                    id: try r.readString("id", maxLength: WireLimits.maxIdentifierLength),
                    offset: try r.readInteger("offset"),
                    maxBytes: try r.readInteger("maxBytes")
                )
            )
        case .backupFetchResponse:
            return .backupFetchResponse(
                BackupFetchResponse(
                    offset: try r.readInteger("offset"),
                    size: try r.readInteger("size"),
                    data: try r.readBytes("data", limit: WireLimits.maxBackupChunk)
                )
            )
        default:
            preconditionFailure("\(type) is not a backup message")
        }
    }
}

extension PayloadReader {
    @usableFromInline
    mutating func readBackupReference() throws(WireError) -> BackupReference {
        BackupReference(id: try readString("id", maxLength: WireLimits.maxIdentifierLength))
    }
}
