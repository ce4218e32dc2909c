import Foundation
import NIOCore
import ReplogModel
import ReplogWire

// The staged-recovery messages (0x60-0x6F) in the golden vectors, the manifest's JSON form and
// the random round-trip properties.

extension Samples {
    static let recovery: [Sample] = [
        Sample(
            name: "recovery_stage_request_id",
            envelope: .request(
                .recoveryStageRequest(
                    RecoveryStageRequest(
                        token: 0xfeed,
                        backupID: "nightly-1",
                        acceptStale: true,
                        staleAfterSeconds: 3600
                    )
                ),
                id: 60
            )
        ),
        Sample(
            name: "recovery_stage_request_upload",
            envelope: .request(
                .recoveryStageRequest(RecoveryStageRequest(token: 7, uploadID: 0xabc, allowForeignCluster: true)),
                id: 61
            )
        ),
        Sample(
            name: "recovery_status_response",
            envelope: .response(
                .recoveryStatusResponse(
                    RecoveryStatusResponse(
                        state: .committing,
                        persisted: true,
                        backupID: "nightly-1",
                        label: "nightly",
                        clusterID: cluster,
                        createdAtMilliseconds: 1_700_000_000_000,
                        firstPosition: 1,
                        lastPosition: 120,
                        entryCount: 118,
                        entryBytes: 4096,
                        deletedCount: 2,
                        readCap: 130,
                        written: 64,
                        restartFrom: 0,
                        committedLast: 0,
                        message: "committing: 64 of 118 entries written"
                    )
                ),
                to: 60
            )
        ),
        Sample(
            name: "recovery_status_response_none",
            envelope: .response(
                .recoveryStatusResponse(
                    RecoveryStatusResponse(state: .none, restartFrom: 132, committedLast: 249, message: "committed")
                ),
                to: 62
            )
        ),
        Sample(
            name: "recovery_upload_request",
            envelope: .request(
                .recoveryUploadRequest(
                    RecoveryUploadRequest(uploadID: 0xabc, offset: 4096, last: true, chunk: bytes("RPLGBKUP"))
                ),
                id: 63
            )
        ),
        Sample(
            name: "recovery_upload_response",
            envelope: .response(
                .recoveryUploadResponse(RecoveryUploadResponse(uploadID: 0xabc, received: 4104)),
                to: 63
            )
        ),
        Sample(
            name: "recovery_print_request",
            envelope: .request(
                .recoveryPrintRequest(
                    RecoveryPrintRequest(from: 1, to: UInt64.max, maxEntries: 1000, maxBytes: 4 << 20, grep: "job-7")
                ),
                id: 64
            )
        ),
        Sample(
            name: "recovery_print_response",
            envelope: .response(
                .recoveryPrintResponse(
                    RecoveryPrintResponse(
                        next: 13,
                        more: true,
                        entries: [
                            Entry(position: 7, bytes: bytes("job-7 created")),
                            Entry(position: 12, bytes: bytes("job-7 done")),
                        ]
                    )
                ),
                to: 64
            )
        ),
        Sample(
            name: "recovery_delete_request_positions",
            envelope: .request(.recoveryDeleteRequest(RecoveryDeleteRequest(positions: [7, 12])), id: 65)
        ),
        Sample(
            name: "recovery_delete_request_grep",
            envelope: .request(.recoveryDeleteRequest(RecoveryDeleteRequest(grep: "job-7")), id: 66)
        ),
        Sample(
            name: "recovery_delete_response",
            envelope: .response(
                .recoveryDeleteResponse(
                    RecoveryDeleteResponse(
                        removedCount: 2,
                        remainingCount: 116,
                        removed: [
                            RemovedEntry(position: 7, size: 13, head: bytes("job-7 created")),
                            RemovedEntry(position: 12, size: 10, head: bytes("job-7 done")),
                        ]
                    )
                ),
                to: 65
            )
        ),
        Sample(name: "recovery_status_request", envelope: .request(.recoveryStatusRequest, id: 67)),
        Sample(name: "recovery_commit_request", envelope: .request(.recoveryCommitRequest, id: 68)),
        Sample(name: "recovery_unload_request", envelope: .request(.recoveryUnloadRequest, id: 69)),
    ]
}

extension MessageJSON {
    static func recoveryStatus(_ m: RecoveryStatusResponse) -> [String: Any] {
        [
            "state": m.state.description, "persisted": m.persisted, "backupID": m.backupID, "label": m.label,
            "clusterID": m.clusterID.description, "createdAtMilliseconds": u64(m.createdAtMilliseconds),
            "firstPosition": u64(m.firstPosition), "lastPosition": u64(m.lastPosition),
            "entryCount": u64(m.entryCount), "entryBytes": u64(m.entryBytes), "deletedCount": u64(m.deletedCount),
            "readCap": u64(m.readCap), "written": u64(m.written), "restartFrom": u64(m.restartFrom),
            "committedLast": u64(m.committedLast), "message": m.message,
        ]
    }

    static func recoveryStage(_ m: RecoveryStageRequest) -> [String: Any] {
        [
            "token": u64(m.token), "backupID": m.backupID, "uploadID": u64(m.uploadID),
            "allowForeignCluster": m.allowForeignCluster, "acceptStale": m.acceptStale,
            "staleAfterSeconds": u64(m.staleAfterSeconds),
        ]
    }

    static func recoveryDeleted(_ m: RecoveryDeleteResponse) -> [String: Any] {
        [
            "removedCount": u64(m.removedCount), "remainingCount": u64(m.remainingCount),
            "removed": m.removed.map {
                ["position": u64($0.position), "size": Int($0.size), "head": hex($0.head)] as [String: Any]
            },
        ]
    }
}

extension RandomMessages {
    mutating func recoveryStatus() -> RecoveryStatusResponse {
        RecoveryStatusResponse(
            state: RecoveryState.allCases[Int(rng.next() % 4)],
            persisted: bool(),
            backupID: string(),
            label: string(),
            clusterID: ClusterID(high: u64(), low: u64()),
            createdAtMilliseconds: u64(),
            firstPosition: u64(),
            lastPosition: u64(),
            entryCount: u64(),
            entryBytes: u64(),
            deletedCount: u64(),
            readCap: u64(),
            written: u64(),
            restartFrom: u64(),
            committedLast: u64(),
            message: string()
        )
    }

    mutating func recoveryPrintRequest() -> RecoveryPrintRequest {
        let (from, to) = range()
        return RecoveryPrintRequest(from: from, to: to, maxEntries: u32(), maxBytes: u32(), grep: string())
    }

    mutating func recoveryDeleteResponse() -> RecoveryDeleteResponse {
        RecoveryDeleteResponse(
            removedCount: u64(),
            remainingCount: u64(),
            removed: (0..<count(4)).map { _ in RemovedEntry(position: u64(), size: u32(), head: bytes()) }
        )
    }
}
