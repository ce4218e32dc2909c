public import NIOCore
public import ReplogModel

extension Message {
    /// Decodes the payload of a frame whose header says `type`.
    ///
    /// Entry bytes in the result are slices of `payload`: they share its storage.
    @inlinable
    public init(type rawType: UInt8, payload: ByteBuffer) throws(WireError) {
        guard let type = MessageType(rawValue: rawType) else { throw .unknownMessageType(rawType) }
        var reader = PayloadReader(payload, type: type)
        self = try Message.decode(type, from: &reader)
        try reader.finish()
    }

    /// Decodes the message a complete frame carries.
    @inlinable
    public init(frame: Frame) throws(WireError) {
        try self.init(type: frame.header.type, payload: frame.payload)
    }

    @inlinable
    static func decode(_ type: MessageType, from r: inout PayloadReader) throws(WireError) -> Message {
        switch type {
        case .hello:
            let minVersion: UInt8 = try r.readInteger("minVersion")
            let maxVersion: UInt8 = try r.readInteger("maxVersion")
            guard minVersion <= maxVersion else {
                throw r.invalid("maxVersion", "maxVersion \(maxVersion) is below minVersion \(minVersion)", at: 1)
            }
            return .hello(
                Hello(
                    minVersion: minVersion,
                    maxVersion: maxVersion,
                    clusterID: try r.readClusterID("clusterID"),
                    role: try r.readEnum("role", as: NodeRole.self),
                    nodeID: try r.readString("nodeID", maxLength: WireLimits.maxIdentifierLength),
                    maxFrameSize: try r.readInteger("maxFrameSize")
                )
            )
        case .helloAck:
            return .helloAck(
                HelloAck(
                    version: try r.readInteger("version"),
                    clusterID: try r.readClusterID("clusterID"),
                    role: try r.readEnum("role", as: NodeRole.self),
                    nodeID: try r.readString("nodeID", maxLength: WireLimits.maxIdentifierLength),
                    maxFrameSize: try r.readInteger("maxFrameSize")
                )
            )
        case .error:
            return .error(
                ErrorReply(
                    code: ErrorCode(rawValue: try r.readInteger("code")),
                    value: try r.readInteger("value"),
                    hint: try r.readString("hint", maxLength: WireLimits.maxIdentifierLength),
                    text: try r.readString("text", maxLength: WireLimits.maxErrorTextLength)
                )
            )
        case .ping:
            return .ping(Ping(nonce: try r.readInteger("nonce")))
        case .pong:
            return .pong(Ping(nonce: try r.readInteger("nonce")))
        case .promiseRequest:
            let proposal: UInt64 = try r.readInteger("proposal")
            let position: UInt64? = try r.readBool("hasPosition") ? try r.readInteger("position") : nil
            return .promiseRequest(PromiseRequest(proposal: proposal, position: position))
        case .promiseResponse:
            let result = try r.readEnum("result", as: PaxosResult.self)
            let proposal: UInt64 = try r.readInteger("proposal")
            let position: UInt64 = try r.readInteger("position")
            let action = try r.readBool("hasAction") ? try r.readAction("action") : nil
            return .promiseResponse(
                PromiseResponse(result: result, proposal: proposal, position: position, action: action)
            )
        case .writeRequest:
            let proposal: UInt64 = try r.readInteger("proposal")
            let position: UInt64 = try r.readInteger("position")
            let learned = try r.readBool("learned")
            let countOffset = r.offset
            let count = try r.readCount("values", minimumElementSize: 2)
            guard count > 0 else { throw r.invalid("values", "a write carries at least one value", at: countOffset) }
            guard position.addingReportingOverflow(UInt64(count)).overflow == false else {
                throw r.invalid("values", "\(count) values from position \(position) overflow the position space")
            }
            var values: [ActionValue] = []
            values.reserveCapacity(count)
            for _ in 0..<count {
                let valueOffset = r.offset
                guard let value = try r.readActionValue("values") else {
                    throw r.invalid("values", "a written value cannot be of kind 0 (none)", at: valueOffset)
                }
                values.append(value)
            }
            var chosen: LearnedRange?
            if try r.readBool("hasChosen") {
                chosen = LearnedRange(
                    proposal: try r.readInteger("chosen.proposal"),
                    position: try r.readInteger("chosen.position"),
                    count: try r.readInteger("chosen.count")
                )
            }
            return .writeRequest(
                WriteRequest(proposal: proposal, position: position, learned: learned, values: values, chosen: chosen)
            )
        case .writeResponse:
            return .writeResponse(
                WriteResponse(
                    result: try r.readEnum("result", as: PaxosResult.self),
                    proposal: try r.readInteger("proposal"),
                    position: try r.readInteger("position"),
                    count: try r.readInteger("count")
                )
            )
        case .learned:
            return .learned(Learned(actions: try r.readLearnedActions("actions")))
        case .learnedRange:
            return .learnedRange(
                LearnedRange(
                    proposal: try r.readInteger("proposal"),
                    position: try r.readInteger("position"),
                    count: try r.readInteger("count")
                )
            )
        case .recoverRequest:
            return .recoverRequest(RecoverRequest())
        case .recoverResponse:
            let status = try r.readEnum("status", as: ReplicaStatus.self)
            guard try r.readBool("hasRange") else { return .recoverResponse(RecoverResponse(status: status)) }
            let beginOffset = r.offset
            let begin: UInt64 = try r.readInteger("begin")
            let end: UInt64 = try r.readInteger("end")
            guard begin <= end else { throw r.invalid("begin", "begin \(begin) is above end \(end)", at: beginOffset) }
            return .recoverResponse(RecoverResponse(status: status, range: begin...end))
        case .catchupRequest:
            let fromOffset = r.offset
            let from: UInt64 = try r.readInteger("from")
            let to: UInt64 = try r.readInteger("to")
            guard from <= to else { throw r.invalid("from", "from \(from) is above to \(to)", at: fromOffset) }
            return .catchupRequest(CatchupRequest(from: from, to: to, maxBytes: try r.readInteger("maxBytes")))
        case .catchupResponse:
            return .catchupResponse(
                CatchupResponse(
                    begin: try r.readInteger("begin"),
                    end: try r.readInteger("end"),
                    next: try r.readInteger("next"),
                    actions: try r.readLearnedActions("actions")
                )
            )
        case .appendRequest:
            let token = AppendToken(client: try r.readInteger("client"), sequence: try r.readInteger("sequence"))
            let countOffset = r.offset
            let count = try r.readCount("entries", minimumElementSize: 4)
            guard count > 0 else { throw r.invalid("entries", "an append carries at least one entry", at: countOffset) }
            var entries: [ByteBuffer] = []
            entries.reserveCapacity(count)
            for _ in 0..<count { entries.append(try r.readBytes("entries", limit: WireLimits.maxEntrySize)) }
            return .appendRequest(AppendRequest(token: token, entries: entries))
        case .appendResponse:
            return .appendResponse(
                AppendResponse(position: try r.readInteger("position"), count: try r.readInteger("count"))
            )
        case .readRequest:
            let fromOffset = r.offset
            let from: UInt64 = try r.readInteger("from")
            let to: UInt64 = try r.readInteger("to")
            guard from <= to else { throw r.invalid("from", "from \(from) is above to \(to)", at: fromOffset) }
            return .readRequest(
                ReadRequest(
                    from: from,
                    to: to,
                    maxEntries: try r.readInteger("maxEntries"),
                    maxBytes: try r.readInteger("maxBytes")
                )
            )
        case .readResponse:
            let next: UInt64 = try r.readInteger("next")
            let end: UInt64 = try r.readInteger("end")
            return .readResponse(ReadResponse(entries: try r.readEntries("entries"), next: next, end: end))
        case .truncateRequest:
            return .truncateRequest(TruncateRequest(to: try r.readInteger("to")))
        case .truncateResponse:
            return .truncateResponse(TruncateResponse(position: try r.readInteger("position")))
        case .positionsRequest:
            return .positionsRequest
        case .positionsResponse:
            return .positionsResponse(
                PositionsResponse(begin: try r.readInteger("begin"), end: try r.readInteger("end"))
            )
        case .leaderRequest:
            return .leaderRequest
        case .leaderResponse:
            return .leaderResponse(try r.readLeader())
        case .statusRequest:
            return .statusRequest
        case .statusResponse:
            let clusterID = try r.readClusterID("clusterID")
            let leader = try r.readLeader()
            let count = try r.readCount("replicas", minimumElementSize: 28)
            var replicas: [ReplicaInfo] = []
            replicas.reserveCapacity(count)
            for _ in 0..<count {
                var replica = ReplicaInfo(
                    id: try r.readString("replicas.id", maxLength: WireLimits.maxIdentifierLength),
                    address: try r.readString("replicas.address", maxLength: WireLimits.maxIdentifierLength),
                    reachable: try r.readBool("replicas.reachable"),
                    status: try r.readEnum("replicas.status", as: ReplicaStatus.self),
                    begin: try r.readInteger("replicas.begin"),
                    end: try r.readInteger("replicas.end")
                )
                let damaged = try r.readCount("replicas.damaged", minimumElementSize: 8)
                replica.damaged.reserveCapacity(damaged)
                for _ in 0..<damaged { replica.damaged.append(try r.readInteger("replicas.damaged")) }
                replica.problem = try r.readString("replicas.problem", maxLength: WireLimits.maxIdentifierLength)
                replicas.append(replica)
            }
            return .statusResponse(StatusResponse(clusterID: clusterID, leader: leader, replicas: replicas))
        case .leaderProgress:
            let proposal: UInt64 = try r.readInteger("proposal")
            let learnedThrough: UInt64 = try r.readInteger("learnedThrough")
            let count = try r.readCount("assignments", minimumElementSize: 28)
            var assignments: [TokenAssignment] = []
            assignments.reserveCapacity(count)
            for _ in 0..<count {
                let offset = r.offset
                let token = AppendToken(
                    client: try r.readInteger("assignments.client"),
                    sequence: try r.readInteger("assignments.sequence")
                )
                let position: UInt64 = try r.readInteger("assignments.position")
                let entries: UInt32 = try r.readInteger("assignments.count")
                guard token.client != 0, entries > 0,
                    !position.addingReportingOverflow(UInt64(entries)).overflow
                else {
                    throw r.invalid(
                        "assignments",
                        "an assignment needs a client token, at least one entry and positions that do not overflow",
                        at: offset
                    )
                }
                assignments.append(TokenAssignment(token: token, position: position, count: entries))
            }
            return .leaderProgress(
                LeaderProgress(proposal: proposal, learnedThrough: learnedThrough, assignments: assignments)
            )
        case .backupCreateRequest, .backupCreateResponse, .backupListRequest, .backupListResponse,
            .backupShowRequest, .backupShowResponse, .backupDeleteRequest, .backupDeleteResponse,
            .backupFetchRequest, .backupFetchResponse:
            return try decodeBackup(type, from: &r)
        case .recoveryStageRequest: return .recoveryStageRequest(try .decode(from: &r))
        case .recoveryStatusResponse: return .recoveryStatusResponse(try .decode(from: &r))
        case .recoveryUploadRequest: return .recoveryUploadRequest(try .decode(from: &r))
        case .recoveryUploadResponse: return .recoveryUploadResponse(try .decode(from: &r))
        case .recoveryPrintRequest: return .recoveryPrintRequest(try .decode(from: &r))
        case .recoveryPrintResponse: return .recoveryPrintResponse(try .decode(from: &r))
        case .recoveryDeleteRequest: return .recoveryDeleteRequest(try .decode(from: &r))
        case .recoveryDeleteResponse: return .recoveryDeleteResponse(try .decode(from: &r))
        case .recoveryStatusRequest: return .recoveryStatusRequest
        case .recoveryCommitRequest: return .recoveryCommitRequest
        case .recoveryUnloadRequest: return .recoveryUnloadRequest
        }
    }
}

extension PayloadReader {
    @usableFromInline
    mutating func readLeader() throws(WireError) -> LeaderResponse {
        LeaderResponse(
            leaderID: try readString("leaderID", maxLength: WireLimits.maxIdentifierLength),
            leaderAddress: try readString("leaderAddress", maxLength: WireLimits.maxIdentifierLength),
            proposal: try readInteger("proposal")
        )
    }

    /// Reads a counted list of actions, each of which must be learned.
    @usableFromInline
    mutating func readLearnedActions(_ field: StaticString) throws(WireError) -> [Action] {
        let count = try readCount(field, minimumElementSize: 18)
        var actions: [Action] = []
        actions.reserveCapacity(count)
        for _ in 0..<count {
            let actionOffset = offset
            let action = try readAction(field)
            guard action.learned else {
                throw invalid(field, "only learned actions may be sent here", at: actionOffset)
            }
            actions.append(action)
        }
        return actions
    }
}
