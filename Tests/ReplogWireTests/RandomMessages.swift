import NIOCore
import ReplogModel
import ReplogWire

/// Random but valid messages of every type, for round-trip properties.
struct RandomMessages {
    var rng: SplitMix64

    mutating func u64() -> UInt64 {
        // Mix small and extreme values: edge cases live at both ends.
        switch rng.next() % 4 {
        case 0: return rng.next() % 16
        case 1: return UInt64.max - rng.next() % 4
        default: return rng.next()
        }
    }
    mutating func u32() -> UInt32 { UInt32(truncatingIfNeeded: u64()) }
    mutating func bool() -> Bool { rng.next() % 2 == 0 }
    mutating func count(_ limit: Int) -> Int { Int(rng.next() % UInt64(limit + 1)) }

    mutating func string() -> String {
        let alphabet = Array("abcXYZ019-_.:é€😀")
        return String((0..<count(12)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
    }

    mutating func bytes() -> ByteBuffer {
        ByteBuffer(bytes: (0..<count(40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
    }

    mutating func value() -> ActionValue {
        switch rng.next() % 3 {
        case 0: return .nop(tombstone: bool())
        case 1: return .append(bytes())
        default: return .truncate(to: u64())
        }
    }

    mutating func action(learned: Bool? = nil) -> Action {
        let promised = u64()
        let performed: Proposal? = (learned == true || bool()) ? promised - min(promised, rng.next() % 3) : nil
        return Action(
            position: u64(),
            promised: promised,
            performed: performed,
            learned: performed == nil ? false : (learned ?? bool()),
            value: performed == nil ? nil : value()
        )
    }

    mutating func status() -> ReplicaStatus { ReplicaStatus.allCases[Int(rng.next() % 4)] }
    mutating func result() -> PaxosResult { PaxosResult.allCases[Int(rng.next() % 3)] }
    mutating func role() -> NodeRole { NodeRole.allCases[Int(rng.next() % 4)] }
    mutating func range() -> (UInt64, UInt64) {
        let a = u64()
        let b = u64()
        return (min(a, b), max(a, b))
    }
    mutating func leader() -> LeaderResponse {
        LeaderResponse(leaderID: string(), leaderAddress: string(), proposal: u64())
    }

    mutating func message(of type: MessageType) -> Message {
        switch type {
        case .hello:
            let low = UInt8(truncatingIfNeeded: rng.next())
            return .hello(
                Hello(
                    minVersion: low,
                    maxVersion: low &+ UInt8(rng.next() % UInt64(256 - Int(low))),
                    clusterID: ClusterID(high: u64(), low: u64()),
                    role: role(),
                    nodeID: string(),
                    maxFrameSize: u32()
                )
            )
        case .helloAck:
            return .helloAck(
                HelloAck(
                    version: UInt8(truncatingIfNeeded: rng.next()),
                    clusterID: ClusterID(high: u64(), low: u64()),
                    role: role(),
                    nodeID: string(),
                    maxFrameSize: u32()
                )
            )
        case .error:
            return .error(
                ErrorReply(
                    code: ErrorCode(rawValue: UInt16(truncatingIfNeeded: u64())),
                    value: u64(),
                    hint: string(),
                    text: string()
                )
            )
        case .ping: return .ping(Ping(nonce: u64()))
        case .pong: return .pong(Ping(nonce: u64()))
        case .promiseRequest: return .promiseRequest(PromiseRequest(proposal: u64(), position: bool() ? u64() : nil))
        case .promiseResponse:
            return .promiseResponse(
                PromiseResponse(result: result(), proposal: u64(), position: u64(), action: bool() ? action() : nil)
            )
        case .writeRequest:
            let values = (0...count(5)).map { _ in value() }
            let position = u64() % (UInt64.max - UInt64(values.count))
            let chosen = bool() ? LearnedRange(proposal: u64(), position: u64(), count: u32()) : nil
            return .writeRequest(
                WriteRequest(proposal: u64(), position: position, learned: bool(), values: values, chosen: chosen)
            )
        case .writeResponse:
            return .writeResponse(WriteResponse(result: result(), proposal: u64(), position: u64(), count: u32()))
        case .learned: return .learned(Learned(actions: (0..<count(4)).map { _ in action(learned: true) }))
        case .learnedRange: return .learnedRange(LearnedRange(proposal: u64(), position: u64(), count: u32()))
        case .recoverRequest: return .recoverRequest(RecoverRequest())
        case .recoverResponse:
            let (begin, end) = range()
            return .recoverResponse(RecoverResponse(status: status(), range: bool() ? begin...end : nil))
        case .catchupRequest:
            let (from, to) = range()
            return .catchupRequest(CatchupRequest(from: from, to: to, maxBytes: u32()))
        case .catchupResponse:
            return .catchupResponse(
                CatchupResponse(
                    begin: u64(),
                    end: u64(),
                    next: u64(),
                    actions: (0..<count(4)).map { _ in action(learned: true) }
                )
            )
        case .appendRequest:
            return .appendRequest(
                AppendRequest(
                    token: AppendToken(client: u64(), sequence: u64()),
                    entries: (0...count(4)).map { _ in bytes() }
                )
            )
        case .appendResponse: return .appendResponse(AppendResponse(position: u64(), count: u32()))
        case .readRequest:
            let (from, to) = range()
            return .readRequest(ReadRequest(from: from, to: to, maxEntries: u32(), maxBytes: u32()))
        case .readResponse:
            return .readResponse(
                ReadResponse(
                    entries: (0..<count(4)).map { _ in Entry(position: u64(), bytes: bytes()) },
                    next: u64(),
                    end: u64()
                )
            )
        case .truncateRequest: return .truncateRequest(TruncateRequest(to: u64()))
        case .truncateResponse: return .truncateResponse(TruncateResponse(position: u64()))
        case .positionsRequest: return .positionsRequest
        case .positionsResponse: return .positionsResponse(PositionsResponse(begin: u64(), end: u64()))
        case .leaderRequest: return .leaderRequest
        case .leaderResponse: return .leaderResponse(leader())
        case .statusRequest: return .statusRequest
        case .statusResponse:
            return .statusResponse(
                StatusResponse(
                    clusterID: ClusterID(high: u64(), low: u64()),
                    leader: leader(),
                    replicas: (0..<count(5)).map { _ in
                        ReplicaInfo(
                            id: string(),
                            address: string(),
                            reachable: bool(),
                            status: status(),
                            begin: u64(),
                            end: u64(),
                            damaged: (0..<count(3)).map { _ in u64() },
                            problem: string()
                        )
                    }
                )
            )
        case .leaderProgress:
            return .leaderProgress(
                LeaderProgress(
                    proposal: u64(),
                    learnedThrough: u64(),
                    assignments: (0..<count(5)).map { _ in
                        let count = max(1, u32() % 1000)
                        return TokenAssignment(
                            token: AppendToken(client: max(1, u64()), sequence: u64()),
                            position: u64() % (UInt64.max - UInt64(count)),
                            count: count
                        )
                    }
                )
            )
        case .backupCreateRequest: return .backupCreateRequest(BackupCreateRequest(label: string()))
        case .backupCreateResponse: return .backupCreateResponse(backup())
        case .backupListRequest: return .backupListRequest(BackupListRequest(label: string()))
        case .backupListResponse:
            return .backupListResponse(BackupListResponse(backups: (0..<count(3)).map { _ in backup() }))
        case .backupShowRequest: return .backupShowRequest(BackupReference(id: string()))
        case .backupShowResponse: return .backupShowResponse(backup())
        case .backupDeleteRequest: return .backupDeleteRequest(BackupReference(id: string()))
        case .backupDeleteResponse: return .backupDeleteResponse(BackupReference(id: string()))
        case .backupFetchRequest:
            return .backupFetchRequest(BackupFetchRequest(id: string(), offset: u64(), maxBytes: u32()))
        case .backupFetchResponse:
            return .backupFetchResponse(BackupFetchResponse(offset: u64(), size: u64(), data: bytes()))
        case .recoveryStageRequest:
            return .recoveryStageRequest(
                RecoveryStageRequest(
                    token: u64(),
                    backupID: string(),
                    uploadID: u64(),
                    allowForeignCluster: bool(),
                    acceptStale: bool(),
                    staleAfterSeconds: u64()
                )
            )
        case .recoveryStatusResponse: return .recoveryStatusResponse(recoveryStatus())
        case .recoveryUploadRequest:
            return .recoveryUploadRequest(
                RecoveryUploadRequest(uploadID: u64(), offset: u64(), last: bool(), chunk: bytes())
            )
        case .recoveryUploadResponse:
            return .recoveryUploadResponse(RecoveryUploadResponse(uploadID: u64(), received: u64()))
        case .recoveryPrintRequest: return .recoveryPrintRequest(recoveryPrintRequest())
        case .recoveryPrintResponse:
            return .recoveryPrintResponse(
                RecoveryPrintResponse(
                    next: u64(),
                    more: bool(),
                    entries: (0..<count(4)).map { _ in Entry(position: u64(), bytes: bytes()) }
                )
            )
        case .recoveryDeleteRequest:
            return .recoveryDeleteRequest(
                RecoveryDeleteRequest(positions: (0..<count(4)).map { _ in u64() }, grep: string())
            )
        case .recoveryDeleteResponse: return .recoveryDeleteResponse(recoveryDeleteResponse())
        case .recoveryStatusRequest: return .recoveryStatusRequest
        case .recoveryCommitRequest: return .recoveryCommitRequest
        case .recoveryUnloadRequest: return .recoveryUnloadRequest
        }
    }

    mutating func backup() -> BackupInfo {
        BackupInfo(
            id: string(),
            label: string(),
            status: BackupStatus.allCases[Int(rng.next() % UInt64(BackupStatus.allCases.count))],
            reason: string(),
            createdAtMilliseconds: u64(),
            firstPosition: u64(),
            lastPosition: u64(),
            entryCount: u64(),
            entryBytes: u64(),
            size: u64(),
            sha256: bool() ? [] : (0..<32).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        )
    }

    mutating func envelope() -> Envelope {
        let type = MessageType.allCases[Int(rng.next() % UInt64(MessageType.allCases.count))]
        return Envelope(requestID: u64(), flags: bool() ? .response : [], message: message(of: type))
    }
}
