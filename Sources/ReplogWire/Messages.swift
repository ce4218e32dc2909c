public import NIOCore
public import ReplogModel

/// Every message of the replog protocol, as specified in `Protocol/SPEC.md`.
///
/// The same values travel between replicas, coordinators and clients, and are what the consensus
/// core consumes and produces: there is one set of message types, not one per layer.
public enum Message: Sendable, Hashable {
    // Connection
    case hello(Hello)
    case helloAck(HelloAck)
    case error(ErrorReply)
    case ping(Ping)
    case pong(Ping)
    // Paxos
    case promiseRequest(PromiseRequest)
    case promiseResponse(PromiseResponse)
    case writeRequest(WriteRequest)
    case writeResponse(WriteResponse)
    case learned(Learned)
    case learnedRange(LearnedRange)
    case recoverRequest(RecoverRequest)
    case recoverResponse(RecoverResponse)
    case catchupRequest(CatchupRequest)
    case catchupResponse(CatchupResponse)
    // Client operations
    case appendRequest(AppendRequest)
    case appendResponse(AppendResponse)
    case readRequest(ReadRequest)
    case readResponse(ReadResponse)
    case truncateRequest(TruncateRequest)
    case truncateResponse(TruncateResponse)
    case positionsRequest
    case positionsResponse(PositionsResponse)
    case leaderRequest
    case leaderResponse(LeaderResponse)
    case statusRequest
    case statusResponse(StatusResponse)
    // Between coordinators
    case leaderProgress(LeaderProgress)
    // Backups (BackupMessages.swift)
    case backupCreateRequest(BackupCreateRequest)
    case backupCreateResponse(BackupInfo)
    case backupListRequest(BackupListRequest)
    case backupListResponse(BackupListResponse)
    case backupShowRequest(BackupReference)
    case backupShowResponse(BackupInfo)
    case backupDeleteRequest(BackupReference)
    case backupDeleteResponse(BackupReference)
    case backupFetchRequest(BackupFetchRequest)
    case backupFetchResponse(BackupFetchResponse)
    // Staged recovery
    case recoveryStageRequest(RecoveryStageRequest)
    case recoveryStatusResponse(RecoveryStatusResponse)
    case recoveryUploadRequest(RecoveryUploadRequest)
    case recoveryUploadResponse(RecoveryUploadResponse)
    case recoveryPrintRequest(RecoveryPrintRequest)
    case recoveryPrintResponse(RecoveryPrintResponse)
    case recoveryDeleteRequest(RecoveryDeleteRequest)
    case recoveryDeleteResponse(RecoveryDeleteResponse)
    case recoveryStatusRequest
    case recoveryCommitRequest
    case recoveryUnloadRequest

    /// The type code this message is sent with.
    public var type: MessageType {
        switch self {
        case .hello: .hello
        case .helloAck: .helloAck
        case .error: .error
        case .ping: .ping
        case .pong: .pong
        case .promiseRequest: .promiseRequest
        case .promiseResponse: .promiseResponse
        case .writeRequest: .writeRequest
        case .writeResponse: .writeResponse
        case .learned: .learned
        case .learnedRange: .learnedRange
        case .recoverRequest: .recoverRequest
        case .recoverResponse: .recoverResponse
        case .catchupRequest: .catchupRequest
        case .catchupResponse: .catchupResponse
        case .appendRequest: .appendRequest
        case .appendResponse: .appendResponse
        case .readRequest: .readRequest
        case .readResponse: .readResponse
        case .truncateRequest: .truncateRequest
        case .truncateResponse: .truncateResponse
        case .positionsRequest: .positionsRequest
        case .positionsResponse: .positionsResponse
        case .leaderRequest: .leaderRequest
        case .leaderResponse: .leaderResponse
        case .statusRequest: .statusRequest
        case .statusResponse: .statusResponse
        case .leaderProgress: .leaderProgress
        case .backupCreateRequest: .backupCreateRequest
        case .backupCreateResponse: .backupCreateResponse
        case .backupListRequest: .backupListRequest
        case .backupListResponse: .backupListResponse
        case .backupShowRequest: .backupShowRequest
        case .backupShowResponse: .backupShowResponse
        case .backupDeleteRequest: .backupDeleteRequest
        case .backupDeleteResponse: .backupDeleteResponse
        case .backupFetchRequest: .backupFetchRequest
        case .backupFetchResponse: .backupFetchResponse
        case .recoveryStageRequest: .recoveryStageRequest
        case .recoveryStatusResponse: .recoveryStatusResponse
        case .recoveryUploadRequest: .recoveryUploadRequest
        case .recoveryUploadResponse: .recoveryUploadResponse
        case .recoveryPrintRequest: .recoveryPrintRequest
        case .recoveryPrintResponse: .recoveryPrintResponse
        case .recoveryDeleteRequest: .recoveryDeleteRequest
        case .recoveryDeleteResponse: .recoveryDeleteResponse
        case .recoveryStatusRequest: .recoveryStatusRequest
        case .recoveryCommitRequest: .recoveryCommitRequest
        case .recoveryUnloadRequest: .recoveryUnloadRequest
        }
    }
}

/// The one-byte type code in the frame header.
public enum MessageType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case hello = 0x01
    case helloAck = 0x02
    case error = 0x03
    case ping = 0x04
    case pong = 0x05
    case promiseRequest = 0x10
    case promiseResponse = 0x11
    case writeRequest = 0x12
    case writeResponse = 0x13
    case learned = 0x14
    case learnedRange = 0x15
    case recoverRequest = 0x16
    case recoverResponse = 0x17
    case catchupRequest = 0x18
    case catchupResponse = 0x19
    case appendRequest = 0x30
    case appendResponse = 0x31
    case readRequest = 0x32
    case readResponse = 0x33
    case truncateRequest = 0x34
    case truncateResponse = 0x35
    case positionsRequest = 0x36
    case positionsResponse = 0x37
    case leaderRequest = 0x38
    case leaderResponse = 0x39
    case statusRequest = 0x3A
    case statusResponse = 0x3B
    case leaderProgress = 0x3C
    case backupCreateRequest = 0x50
    case backupCreateResponse = 0x51
    case backupListRequest = 0x52
    case backupListResponse = 0x53
    case backupShowRequest = 0x54
    case backupShowResponse = 0x55
    case backupDeleteRequest = 0x56
    case backupDeleteResponse = 0x57
    case backupFetchRequest = 0x58
    case backupFetchResponse = 0x59
    case recoveryStageRequest = 0x60
    case recoveryStatusResponse = 0x61
    case recoveryUploadRequest = 0x62
    case recoveryUploadResponse = 0x63
    case recoveryPrintRequest = 0x64
    case recoveryPrintResponse = 0x65
    case recoveryDeleteRequest = 0x66
    case recoveryDeleteResponse = 0x67
    case recoveryStatusRequest = 0x68
    case recoveryCommitRequest = 0x69
    case recoveryUnloadRequest = 0x6A

    public var description: String {
        switch self {
        case .hello: "Hello"
        case .helloAck: "HelloAck"
        case .error: "Error"
        case .ping: "Ping"
        case .pong: "Pong"
        case .promiseRequest: "PromiseRequest"
        case .promiseResponse: "PromiseResponse"
        case .writeRequest: "WriteRequest"
        case .writeResponse: "WriteResponse"
        case .learned: "Learned"
        case .learnedRange: "LearnedRange"
        case .recoverRequest: "RecoverRequest"
        case .recoverResponse: "RecoverResponse"
        case .catchupRequest: "CatchupRequest"
        case .catchupResponse: "CatchupResponse"
        case .appendRequest: "AppendRequest"
        case .appendResponse: "AppendResponse"
        case .readRequest: "ReadRequest"
        case .readResponse: "ReadResponse"
        case .truncateRequest: "TruncateRequest"
        case .truncateResponse: "TruncateResponse"
        case .positionsRequest: "PositionsRequest"
        case .positionsResponse: "PositionsResponse"
        case .leaderRequest: "LeaderRequest"
        case .leaderResponse: "LeaderResponse"
        case .statusRequest: "StatusRequest"
        case .statusResponse: "StatusResponse"
        case .leaderProgress: "LeaderProgress"
        case .backupCreateRequest: "BackupCreateRequest"
        case .backupCreateResponse: "BackupCreateResponse"
        case .backupListRequest: "BackupListRequest"
        case .backupListResponse: "BackupListResponse"
        case .backupShowRequest: "BackupShowRequest"
        case .backupShowResponse: "BackupShowResponse"
        case .backupDeleteRequest: "BackupDeleteRequest"
        case .backupDeleteResponse: "BackupDeleteResponse"
        case .backupFetchRequest: "BackupFetchRequest"
        case .backupFetchResponse: "BackupFetchResponse"
        case .recoveryStageRequest: "RecoveryStageRequest"
        case .recoveryStatusResponse: "RecoveryStatusResponse"
        case .recoveryUploadRequest: "RecoveryUploadRequest"
        case .recoveryUploadResponse: "RecoveryUploadResponse"
        case .recoveryPrintRequest: "RecoveryPrintRequest"
        case .recoveryPrintResponse: "RecoveryPrintResponse"
        case .recoveryDeleteRequest: "RecoveryDeleteRequest"
        case .recoveryDeleteResponse: "RecoveryDeleteResponse"
        case .recoveryStatusRequest: "RecoveryStatusRequest"
        case .recoveryCommitRequest: "RecoveryCommitRequest"
        case .recoveryUnloadRequest: "RecoveryUnloadRequest"
        }
    }
}

// MARK: Connection

/// The first frame on every connection, from the side that dialled.
public struct Hello: Sendable, Hashable {
    /// The lowest protocol version the sender speaks.
    public var minVersion: UInt8
    /// The highest protocol version the sender speaks.
    public var maxVersion: UInt8
    public var clusterID: ClusterID
    public var role: NodeRole
    /// The sender's id (a replica or coordinator id, or a client name); at most 255 bytes of UTF-8.
    public var nodeID: String
    /// The largest frame payload the sender accepts, in bytes.
    public var maxFrameSize: UInt32

    public init(
        minVersion: UInt8 = WireLimits.protocolVersion,
        maxVersion: UInt8 = WireLimits.protocolVersion,
        clusterID: ClusterID,
        role: NodeRole,
        nodeID: String,
        maxFrameSize: UInt32 = WireLimits.maxFrameSize
    ) {
        self.minVersion = minVersion
        self.maxVersion = maxVersion
        self.clusterID = clusterID
        self.role = role
        self.nodeID = nodeID
        self.maxFrameSize = maxFrameSize
    }
}

/// The accepting side's answer to ``Hello``: the version both will speak from now on.
public struct HelloAck: Sendable, Hashable {
    public var version: UInt8
    public var clusterID: ClusterID
    public var role: NodeRole
    public var nodeID: String
    public var maxFrameSize: UInt32

    public init(
        version: UInt8 = WireLimits.protocolVersion,
        clusterID: ClusterID,
        role: NodeRole,
        nodeID: String,
        maxFrameSize: UInt32 = WireLimits.maxFrameSize
    ) {
        self.version = version
        self.clusterID = clusterID
        self.role = role
        self.nodeID = nodeID
        self.maxFrameSize = maxFrameSize
    }
}

/// A typed error reply. It answers the request whose id its frame carries (or id 0 for an error
/// about the connection itself, sent just before closing it).
public struct ErrorReply: Sendable, Hashable, Error, CustomStringConvertible {
    public var code: ErrorCode
    /// A number whose meaning depends on the code (for ``ErrorCode/truncated`` the position to
    /// restart from); 0 when unused.
    public var value: UInt64
    /// A machine-usable hint (for ``ErrorCode/notLeader`` the leader's `HOST:PORT`); may be empty.
    public var hint: String
    /// What went wrong and what to do, for a human.
    public var text: String

    public init(code: ErrorCode, value: UInt64 = 0, hint: String = "", text: String) {
        self.code = code
        self.value = value
        self.hint = hint
        self.text = text
    }

    public var description: String { "\(code): \(text)" }
}

/// The error codes of ``ErrorReply``. Unknown codes from newer peers are kept, not rejected.
public struct ErrorCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let malformedFrame = ErrorCode(rawValue: 1)
    public static let unsupportedVersion = ErrorCode(rawValue: 2)
    public static let unknownMessageType = ErrorCode(rawValue: 3)
    public static let malformedMessage = ErrorCode(rawValue: 4)
    public static let frameTooLarge = ErrorCode(rawValue: 5)
    public static let entryTooLarge = ErrorCode(rawValue: 6)
    public static let clusterMismatch = ErrorCode(rawValue: 7)
    public static let roleNotAllowed = ErrorCode(rawValue: 8)
    public static let helloRequired = ErrorCode(rawValue: 9)
    public static let notLeader = ErrorCode(rawValue: 10)
    public static let recoveryInProgress = ErrorCode(rawValue: 11)
    public static let truncated = ErrorCode(rawValue: 12)
    public static let unavailable = ErrorCode(rawValue: 13)
    public static let timeout = ErrorCode(rawValue: 14)
    public static let `internal` = ErrorCode(rawValue: 15)
    public static let notEmpty = ErrorCode(rawValue: 16)
    public static let overloaded = ErrorCode(rawValue: 17)
    public static let invalidRequest = ErrorCode(rawValue: 18)
    public static let notFound = ErrorCode(rawValue: 19)
    public static let conflict = ErrorCode(rawValue: 20)
    public static let corruption = ErrorCode(rawValue: 21)

    static let names: [UInt16: String] = [
        1: "malformedFrame", 2: "unsupportedVersion", 3: "unknownMessageType", 4: "malformedMessage",
        5: "frameTooLarge", 6: "entryTooLarge", 7: "clusterMismatch", 8: "roleNotAllowed",
        9: "helloRequired", 10: "notLeader", 11: "recoveryInProgress", 12: "truncated",
        13: "unavailable", 14: "timeout", 15: "internal", 16: "notEmpty", 17: "overloaded",
        18: "invalidRequest", 19: "notFound", 20: "conflict", 21: "corruption",
    ]

    public var description: String { Self.names[rawValue] ?? "error\(rawValue)" }
}

/// Keep-alive probe; the peer answers with a pong carrying the same nonce.
public struct Ping: Sendable, Hashable {
    public var nonce: UInt64
    public init(nonce: UInt64) { self.nonce = nonce }
}

// MARK: Paxos

/// How a replica answered a promise or write request.
public enum PaxosResult: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Promised or written.
    case accept = 1
    /// Refused because the replica promised a higher proposal, carried in the response.
    case reject = 2
    /// Not answered on its merits: the replica is not VOTING, or the position is already learned.
    case ignored = 3

    public var description: String {
        switch self {
        case .accept: "ACCEPT"
        case .reject: "REJECT"
        case .ignored: "IGNORED"
        }
    }
}

/// Phase one. Without a position it is an implicit promise for every position (a coordinator's
/// election); with one it is an explicit promise for that position only (filling a hole).
public struct PromiseRequest: Sendable, Hashable {
    public var proposal: Proposal
    public var position: Position?
    public init(proposal: Proposal, position: Position? = nil) {
        self.proposal = proposal
        self.position = position
    }
}

/// The answer to ``PromiseRequest``.
///
/// For ACCEPT of an implicit promise `position` is the replica's end (its highest position, 0 for
/// an empty log); for an explicit promise `action` is what the replica holds at that position, if
/// anything. For REJECT `proposal` is the higher proposal the replica promised.
public struct PromiseResponse: Sendable, Hashable {
    public var result: PaxosResult
    public var proposal: Proposal
    public var position: Position
    public var action: Action?
    public init(result: PaxosResult, proposal: Proposal, position: Position, action: Action? = nil) {
        self.result = result
        self.proposal = proposal
        self.position = position
        self.action = action
    }
}

/// Phase two: write `values` at consecutive positions starting at `position` with `proposal`.
/// `learned` asks the replica to store them as learned at once (used when re-writing a value a
/// quorum already chose). `chosen`, when present, is a ``LearnedRange`` handled before the write:
/// under load the coordinator tells what the last write chose along with the next one, so a
/// replica handles one message per round trip instead of two.
public struct WriteRequest: Sendable, Hashable {
    public var proposal: Proposal
    public var position: Position
    public var learned: Bool
    public var values: [ActionValue]
    public var chosen: LearnedRange?
    public init(
        proposal: Proposal,
        position: Position,
        learned: Bool = false,
        values: [ActionValue],
        chosen: LearnedRange? = nil
    ) {
        self.proposal = proposal
        self.position = position
        self.learned = learned
        self.values = values
        self.chosen = chosen
    }
}

/// The answer to ``WriteRequest`` for all of its positions at once.
public struct WriteResponse: Sendable, Hashable {
    public var result: PaxosResult
    public var proposal: Proposal
    public var position: Position
    public var count: UInt32
    public init(result: PaxosResult, proposal: Proposal, position: Position, count: UInt32) {
        self.result = result
        self.proposal = proposal
        self.position = position
        self.count = count
    }
}

/// Learned actions, carried whole (values included); sent after filling holes and on catch-up.
public struct Learned: Sendable, Hashable {
    public var actions: [Action]
    public init(actions: [Action]) { self.actions = actions }
}

/// "Positions `position ..< position + count` were chosen with `proposal`." A replica that
/// performed exactly that proposal there marks them learned; any other replica leaves them to
/// catch-up. Sent after quorum writes so that values do not cross the network twice.
public struct LearnedRange: Sendable, Hashable {
    public var proposal: Proposal
    public var position: Position
    public var count: UInt32
    public init(proposal: Proposal, position: Position, count: UInt32) {
        self.proposal = proposal
        self.position = position
        self.count = count
    }
}

/// Broadcast by a replica that is not VOTING, to learn the others' statuses.
public struct RecoverRequest: Sendable, Hashable {
    public init() {}
}

/// A replica's status and, when it has one, the range of its log.
public struct RecoverResponse: Sendable, Hashable {
    public var status: ReplicaStatus
    /// `begin ... end` of the replica's log; present when the replica is VOTING.
    public var range: ClosedRange<Position>?
    public init(status: ReplicaStatus, range: ClosedRange<Position>? = nil) {
        self.status = status
        self.range = range
    }
}

/// Asks a replica for its learned actions in `from ... to`, at most about `maxBytes` of values.
public struct CatchupRequest: Sendable, Hashable {
    public var from: Position
    public var to: Position
    public var maxBytes: UInt32
    public init(from: Position, to: Position, maxBytes: UInt32) {
        self.from = from
        self.to = to
        self.maxBytes = maxBytes
    }
}

/// Learned actions of `from ..< next`, in position order; positions the replica has not learned
/// are absent. Positions below the replica's `begin` come back as learned NOP tombstones.
public struct CatchupResponse: Sendable, Hashable {
    public var begin: Position
    public var end: Position
    public var next: Position
    public var actions: [Action]
    public init(begin: Position, end: Position, next: Position, actions: [Action]) {
        self.begin = begin
        self.end = end
        self.next = next
        self.actions = actions
    }
}

// MARK: Client operations

/// Identifies one append so that a retry is applied at most once. `client == 0` turns
/// de-duplication off.
public struct AppendToken: Sendable, Hashable {
    public var client: UInt64
    public var sequence: UInt64
    public init(client: UInt64, sequence: UInt64) {
        self.client = client
        self.sequence = sequence
    }
    public static let none = AppendToken(client: 0, sequence: 0)
}

/// Appends one or more entries, which are given consecutive positions.
public struct AppendRequest: Sendable, Hashable {
    public var token: AppendToken
    public var entries: [ByteBuffer]
    public init(token: AppendToken = .none, entries: [ByteBuffer]) {
        self.token = token
        self.entries = entries
    }
}

/// Entries were learned at `position ..< position + count`.
public struct AppendResponse: Sendable, Hashable {
    public var position: Position
    public var count: UInt32
    public init(position: Position, count: UInt32) {
        self.position = position
        self.count = count
    }
}

/// Reads learned APPEND entries in `from ... to`, at most `maxEntries` and about `maxBytes`.
public struct ReadRequest: Sendable, Hashable {
    public var from: Position
    public var to: Position
    public var maxEntries: UInt32
    public var maxBytes: UInt32
    public init(from: Position, to: Position, maxEntries: UInt32, maxBytes: UInt32) {
        self.from = from
        self.to = to
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
    }
}

/// One entry of the log as a client sees it.
public struct Entry: Sendable, Hashable {
    public var position: Position
    public var bytes: ByteBuffer
    public init(position: Position, bytes: ByteBuffer) {
        self.position = position
        self.bytes = bytes
    }
}

/// Entries of `from ..< next` in order (NOP and TRUNCATE positions are skipped); `end` is the
/// highest learned position known to the answering process.
public struct ReadResponse: Sendable, Hashable {
    public var entries: [Entry]
    public var next: Position
    public var end: Position
    public init(entries: [Entry], next: Position, end: Position) {
        self.entries = entries
        self.next = next
        self.end = end
    }
}

/// Removes every position below `to`.
public struct TruncateRequest: Sendable, Hashable {
    public var to: Position
    public init(to: Position) { self.to = to }
}

/// The TRUNCATE action was learned at `position`.
public struct TruncateResponse: Sendable, Hashable {
    public var position: Position
    public init(position: Position) { self.position = position }
}

/// The first and last positions of the log (Mesos's `beginning()` and `ending()`).
public struct PositionsResponse: Sendable, Hashable {
    public var begin: Position
    public var end: Position
    public init(begin: Position, end: Position) {
        self.begin = begin
        self.end = end
    }
}

/// Who leads. `leaderID` and `leaderAddress` are empty when no leader is known.
public struct LeaderResponse: Sendable, Hashable {
    public var leaderID: String
    public var leaderAddress: String
    public var proposal: Proposal
    public init(leaderID: String, leaderAddress: String, proposal: Proposal) {
        self.leaderID = leaderID
        self.leaderAddress = leaderAddress
        self.proposal = proposal
    }
    public var isKnown: Bool { !leaderID.isEmpty }
}

/// One replica as the answering process sees it.
public struct ReplicaInfo: Sendable, Hashable {
    public var id: String
    public var address: String
    public var reachable: Bool
    public var status: ReplicaStatus
    public var begin: Position
    public var end: Position
    /// Positions whose records are damaged on the replica's disk and are not served (ascending).
    public var damaged: [Position]
    /// What is wrong with the replica, for an operator (at most 255 bytes); empty when nothing is.
    public var problem: String
    public init(
        id: String,
        address: String,
        reachable: Bool,
        status: ReplicaStatus,
        begin: Position,
        end: Position,
        damaged: [Position] = [],
        problem: String = ""
    ) {
        self.id = id
        self.address = address
        self.reachable = reachable
        self.status = status
        self.begin = begin
        self.end = end
        self.damaged = damaged
        self.problem = problem
    }
}

/// The cluster as the answering process sees it.
public struct StatusResponse: Sendable, Hashable {
    public var clusterID: ClusterID
    public var leader: LeaderResponse
    public var replicas: [ReplicaInfo]
    public init(clusterID: ClusterID, leader: LeaderResponse, replicas: [ReplicaInfo]) {
        self.clusterID = clusterID
        self.leader = leader
        self.replicas = replicas
    }
}

// MARK: Between coordinators

/// From the leading coordinator to the other coordinators, without an answer: it lives and leads
/// with `proposal`, every position up to `learnedThrough` is learned, and the appends in
/// `assignments` were just given positions (sent before they are written, so that a coordinator
/// that takes over can answer retries of those appends instead of appending them again).
public struct LeaderProgress: Sendable, Hashable {
    public var proposal: Proposal
    public var learnedThrough: Position
    public var assignments: [TokenAssignment]
    public init(proposal: Proposal, learnedThrough: Position, assignments: [TokenAssignment]) {
        self.proposal = proposal
        self.learnedThrough = learnedThrough
        self.assignments = assignments
    }
}

/// The positions `position ..< position + count` an append with idempotency token `token` was given.
public struct TokenAssignment: Sendable, Hashable {
    public var token: AppendToken
    public var position: Position
    public var count: UInt32
    public init(token: AppendToken, position: Position, count: UInt32) {
        self.token = token
        self.position = position
        self.count = count
    }
}
