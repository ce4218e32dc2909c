import Foundation
import NIOCore
import ReplogModel
import ReplogWire

/// The language-neutral JSON description of a decoded envelope used by `Protocol/vectors/manifest.json`.
///
/// 64-bit integers are decimal strings (JSON numbers lose precision above 2^53), byte strings are
/// lowercase hex, enumerations are their names. SPEC.md documents this form for implementers.
enum MessageJSON {
    static func describe(_ envelope: Envelope) -> [String: Any] {
        [
            "type": envelope.message.type.description,
            "requestID": u64(envelope.requestID),
            "flags": Int(envelope.flags.rawValue),
            "value": describe(envelope.message),
        ]
    }

    /// Serializes with sorted keys so that two descriptions compare as strings.
    static func canonical(_ object: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func u64(_ value: UInt64) -> String { String(value) }

    static func hex(_ buffer: ByteBuffer) -> String {
        buffer.readableBytesView.map { byte in
            let digits = String(byte, radix: 16)
            return byte < 16 ? "0" + digits : digits
        }.joined()
    }

    static func value(_ value: ActionValue?) -> Any {
        switch value {
        case nil: return NSNull()
        case .nop(let tombstone)?: return ["kind": "NOP", "tombstone": tombstone]
        case .append(let bytes)?: return ["kind": "APPEND", "bytes": hex(bytes)]
        case .truncate(let to)?: return ["kind": "TRUNCATE", "to": u64(to)]
        }
    }

    static func action(_ action: Action) -> [String: Any] {
        [
            "position": u64(action.position),
            "promised": u64(action.promised),
            "performed": action.performed.map(u64) as Any? ?? NSNull(),
            "learned": action.learned,
            "value": value(action.value),
        ]
    }

    static func learnedRange(_ range: LearnedRange) -> [String: Any] {
        ["proposal": u64(range.proposal), "position": u64(range.position), "count": Int(range.count)]
    }

    static func leader(_ leader: LeaderResponse) -> [String: Any] {
        ["leaderID": leader.leaderID, "leaderAddress": leader.leaderAddress, "proposal": u64(leader.proposal)]
    }

    static func describe(_ message: Message) -> [String: Any] {
        switch message {
        case .hello(let m):
            return [
                "minVersion": Int(m.minVersion), "maxVersion": Int(m.maxVersion), "clusterID": m.clusterID.description,
                "role": m.role.description, "nodeID": m.nodeID, "maxFrameSize": Int(m.maxFrameSize),
            ]
        case .helloAck(let m):
            return [
                "version": Int(m.version), "clusterID": m.clusterID.description, "role": m.role.description,
                "nodeID": m.nodeID, "maxFrameSize": Int(m.maxFrameSize),
            ]
        case .error(let m):
            return ["code": Int(m.code.rawValue), "value": u64(m.value), "hint": m.hint, "text": m.text]
        case .ping(let m), .pong(let m):
            return ["nonce": u64(m.nonce)]
        case .promiseRequest(let m):
            return ["proposal": u64(m.proposal), "position": m.position.map(u64) as Any? ?? NSNull()]
        case .promiseResponse(let m):
            return [
                "result": m.result.description, "proposal": u64(m.proposal), "position": u64(m.position),
                "action": m.action.map(action) as Any? ?? NSNull(),
            ]
        case .writeRequest(let m):
            return [
                "proposal": u64(m.proposal), "position": u64(m.position), "learned": m.learned,
                "values": m.values.map { value($0) },
                "chosen": m.chosen.map(learnedRange) as Any? ?? NSNull(),
            ]
        case .writeResponse(let m):
            return [
                "result": m.result.description, "proposal": u64(m.proposal), "position": u64(m.position),
                "count": Int(m.count),
            ]
        case .learned(let m):
            return ["actions": m.actions.map(action)]
        case .learnedRange(let m):
            return learnedRange(m)
        case .recoverRequest, .positionsRequest, .leaderRequest, .statusRequest:
            return [:]
        case .recoveryStatusRequest, .recoveryCommitRequest, .recoveryUnloadRequest:
            return [:]
        case .recoveryStageRequest(let m):
            return recoveryStage(m)
        case .recoveryStatusResponse(let m):
            return recoveryStatus(m)
        case .recoveryUploadRequest(let m):
            return ["uploadID": u64(m.uploadID), "offset": u64(m.offset), "last": m.last, "chunk": hex(m.chunk)]
        case .recoveryUploadResponse(let m):
            return ["uploadID": u64(m.uploadID), "received": u64(m.received)]
        case .recoveryPrintRequest(let m):
            return [
                "from": u64(m.from), "to": u64(m.to), "maxEntries": Int(m.maxEntries), "maxBytes": Int(m.maxBytes),
                "grep": m.grep,
            ]
        case .recoveryPrintResponse(let m):
            return [
                "next": u64(m.next), "more": m.more,
                "entries": m.entries.map { ["position": u64($0.position), "bytes": hex($0.bytes)] },
            ]
        case .recoveryDeleteRequest(let m):
            return ["positions": m.positions.map(u64), "grep": m.grep]
        case .recoveryDeleteResponse(let m):
            return recoveryDeleted(m)
        case .recoverResponse(let m):
            return [
                "status": m.status.description,
                "begin": m.range.map { u64($0.lowerBound) } as Any? ?? NSNull(),
                "end": m.range.map { u64($0.upperBound) } as Any? ?? NSNull(),
            ]
        case .catchupRequest(let m):
            return ["from": u64(m.from), "to": u64(m.to), "maxBytes": Int(m.maxBytes)]
        case .catchupResponse(let m):
            return [
                "begin": u64(m.begin), "end": u64(m.end), "next": u64(m.next), "actions": m.actions.map(action),
            ]
        case .appendRequest(let m):
            return [
                "client": u64(m.token.client), "sequence": u64(m.token.sequence), "entries": m.entries.map(hex),
            ]
        case .appendResponse(let m):
            return ["position": u64(m.position), "count": Int(m.count)]
        case .readRequest(let m):
            return [
                "from": u64(m.from), "to": u64(m.to), "maxEntries": Int(m.maxEntries), "maxBytes": Int(m.maxBytes),
            ]
        case .readResponse(let m):
            return [
                "next": u64(m.next), "end": u64(m.end),
                "entries": m.entries.map { ["position": u64($0.position), "bytes": hex($0.bytes)] },
            ]
        case .truncateRequest(let m):
            return ["to": u64(m.to)]
        case .truncateResponse(let m):
            return ["position": u64(m.position)]
        case .positionsResponse(let m):
            return ["begin": u64(m.begin), "end": u64(m.end)]
        case .leaderResponse(let m):
            return leader(m)
        case .statusResponse(let m):
            return [
                "clusterID": m.clusterID.description, "leader": leader(m.leader),
                "replicas": m.replicas.map {
                    [
                        "id": $0.id, "address": $0.address, "reachable": $0.reachable, "status": $0.status.description,
                        "begin": u64($0.begin), "end": u64($0.end), "damaged": $0.damaged.map(u64),
                        "problem": $0.problem,
                    ] as [String: Any]
                },
            ]
        case .leaderProgress(let m):
            return [
                "proposal": u64(m.proposal), "learnedThrough": u64(m.learnedThrough),
                "assignments": m.assignments.map {
                    [
                        "client": u64($0.token.client), "sequence": u64($0.token.sequence),
                        "position": u64($0.position), "count": Int($0.count),
                    ] as [String: Any]
                },
            ]
        case .backupCreateRequest(let m):
            return ["label": m.label]
        case .backupCreateResponse(let m), .backupShowResponse(let m):
            return ["backup": backup(m)]
        case .backupListRequest(let m):
            return ["label": m.label]
        case .backupListResponse(let m):
            return ["backups": m.backups.map(backup)]
        case .backupShowRequest(let m), .backupDeleteRequest(let m), .backupDeleteResponse(let m):
            return ["id": m.id]
        case .backupFetchRequest(let m):
            return ["id": m.id, "offset": u64(m.offset), "maxBytes": Int(m.maxBytes)]
        case .backupFetchResponse(let m):
            return ["offset": u64(m.offset), "size": u64(m.size), "data": hex(m.data)]
        }
    }

    static func backup(_ info: BackupInfo) -> [String: Any] {
        [
            "id": info.id, "label": info.label, "status": info.status.description, "reason": info.reason,
            "createdAt": u64(info.createdAtMilliseconds), "firstPosition": u64(info.firstPosition),
            "lastPosition": u64(info.lastPosition), "entryCount": u64(info.entryCount),
            "entryBytes": u64(info.entryBytes), "size": u64(info.size), "sha256": hex(ByteBuffer(bytes: info.sha256)),
        ]
    }
}
