public import NIOCore
public import ReplogModel

extension Message {
    /// Appends this message's payload (without frame header) to `buffer`, as SPEC.md lays it out.
    @inlinable
    public func encodePayload(into buffer: inout ByteBuffer) {
        switch self {
        case .hello(let m):
            buffer.writeMultipleIntegers(m.minVersion, m.maxVersion)
            buffer.writeClusterID(m.clusterID)
            buffer.writeInteger(m.role.rawValue)
            buffer.writeWireString(m.nodeID)
            buffer.writeInteger(m.maxFrameSize)
        case .helloAck(let m):
            buffer.writeInteger(m.version)
            buffer.writeClusterID(m.clusterID)
            buffer.writeInteger(m.role.rawValue)
            buffer.writeWireString(m.nodeID)
            buffer.writeInteger(m.maxFrameSize)
        case .error(let m):
            buffer.writeMultipleIntegers(m.code.rawValue, m.value)
            buffer.writeWireString(m.hint)
            buffer.writeWireString(m.text)
        case .ping(let m), .pong(let m):
            buffer.writeInteger(m.nonce)
        case .promiseRequest(let m):
            buffer.writeInteger(m.proposal)
            if let position = m.position {
                buffer.writeMultipleIntegers(UInt8(1), position)
            } else {
                buffer.writeInteger(UInt8(0))
            }
        case .promiseResponse(let m):
            buffer.writeMultipleIntegers(m.result.rawValue, m.proposal, m.position)
            if let action = m.action {
                buffer.writeInteger(UInt8(1))
                buffer.writeAction(action)
            } else {
                buffer.writeInteger(UInt8(0))
            }
        case .writeRequest(let m):
            buffer.writeMultipleIntegers(m.proposal, m.position, m.learned ? UInt8(1) : 0, UInt32(m.values.count))
            for value in m.values { buffer.writeActionValue(value) }
            if let chosen = m.chosen {
                buffer.writeMultipleIntegers(UInt8(1), chosen.proposal, chosen.position, chosen.count)
            } else {
                buffer.writeInteger(UInt8(0))
            }
        case .writeResponse(let m):
            buffer.writeMultipleIntegers(m.result.rawValue, m.proposal, m.position, m.count)
        case .learned(let m):
            buffer.writeInteger(UInt32(m.actions.count))
            for action in m.actions { buffer.writeAction(action) }
        case .learnedRange(let m):
            buffer.writeMultipleIntegers(m.proposal, m.position, m.count)
        case .recoverRequest, .positionsRequest, .leaderRequest, .statusRequest:
            break
        case .recoveryStatusRequest, .recoveryCommitRequest, .recoveryUnloadRequest:
            break
        case .recoveryStageRequest(let m): m.encode(into: &buffer)
        case .recoveryStatusResponse(let m): m.encode(into: &buffer)
        case .recoveryUploadRequest(let m): m.encode(into: &buffer)
        case .recoveryUploadResponse(let m): m.encode(into: &buffer)
        case .recoveryPrintRequest(let m): m.encode(into: &buffer)
        case .recoveryPrintResponse(let m): m.encode(into: &buffer)
        case .recoveryDeleteRequest(let m): m.encode(into: &buffer)
        case .recoveryDeleteResponse(let m): m.encode(into: &buffer)
        case .recoverResponse(let m):
            buffer.writeInteger(m.status.rawValue)
            if let range = m.range {
                buffer.writeMultipleIntegers(UInt8(1), range.lowerBound, range.upperBound)
            } else {
                buffer.writeInteger(UInt8(0))
            }
        case .catchupRequest(let m):
            buffer.writeMultipleIntegers(m.from, m.to, m.maxBytes)
        case .catchupResponse(let m):
            buffer.writeMultipleIntegers(m.begin, m.end, m.next, UInt32(m.actions.count))
            for action in m.actions { buffer.writeAction(action) }
        case .appendRequest(let m):
            buffer.writeMultipleIntegers(m.token.client, m.token.sequence, UInt32(m.entries.count))
            for entry in m.entries { buffer.writeWireBytes(entry) }
        case .appendResponse(let m):
            buffer.writeMultipleIntegers(m.position, m.count)
        case .readRequest(let m):
            buffer.writeMultipleIntegers(m.from, m.to, m.maxEntries, m.maxBytes)
        case .readResponse(let m):
            buffer.writeMultipleIntegers(m.next, m.end)
            buffer.writeEntries(m.entries)
        case .truncateRequest(let m):
            buffer.writeInteger(m.to)
        case .truncateResponse(let m):
            buffer.writeInteger(m.position)
        case .positionsResponse(let m):
            buffer.writeMultipleIntegers(m.begin, m.end)
        case .leaderResponse(let m):
            buffer.writeLeader(m)
        case .statusResponse(let m):
            buffer.writeClusterID(m.clusterID)
            buffer.writeLeader(m.leader)
            buffer.writeInteger(UInt32(m.replicas.count))
            for replica in m.replicas {
                buffer.writeWireString(replica.id)
                buffer.writeWireString(replica.address)
                buffer.writeMultipleIntegers(
                    replica.reachable ? UInt8(1) : 0,
                    replica.status.rawValue,
                    replica.begin,
                    replica.end
                )
                buffer.writeInteger(UInt32(replica.damaged.count))
                for position in replica.damaged { buffer.writeInteger(position) }
                buffer.writeWireString(replica.problem)
            }
        case .leaderProgress(let m):
            buffer.writeMultipleIntegers(m.proposal, m.learnedThrough, UInt32(m.assignments.count))
            for assignment in m.assignments {
                buffer.writeMultipleIntegers(
                    assignment.token.client,
                    assignment.token.sequence,
                    assignment.position,
                    assignment.count
                )
            }
        case .backupCreateRequest, .backupCreateResponse, .backupListRequest, .backupListResponse,
            .backupShowRequest, .backupShowResponse, .backupDeleteRequest, .backupDeleteResponse,
            .backupFetchRequest, .backupFetchResponse:
            encodeBackupPayload(into: &buffer)
        }
    }
}

extension ByteBuffer {
    @usableFromInline
    mutating func writeLeader(_ leader: LeaderResponse) {
        writeWireString(leader.leaderID)
        writeWireString(leader.leaderAddress)
        writeInteger(leader.proposal)
    }

    /// Appends one whole frame (header and payload) carrying `envelope`, and returns its size.
    @discardableResult
    @inlinable
    public mutating func writeEnvelope(_ envelope: Envelope, version: UInt8 = WireLimits.protocolVersion) -> Int {
        let start = writerIndex
        writeMultipleIntegers(
            WireLimits.magic,
            version,
            envelope.message.type.rawValue,
            envelope.flags.rawValue,
            envelope.requestID,
            UInt32(0)
        )
        envelope.message.encodePayload(into: &self)
        let payloadLength = writerIndex - start - WireLimits.headerSize
        setInteger(UInt32(payloadLength), at: start + WireLimits.headerSize - 4)
        return writerIndex - start
    }
}
