import NIOCore
import ReplogModel
import ReplogWire

extension Samples {
    static let readyBackup = BackupInfo(
        id: "before-upgrade-3f1c9a52-6b0e-4d2a-9c41-7e5b2a90d1f3",
        label: "before-upgrade",
        status: .ready,
        createdAtMilliseconds: 1_795_435_200_000,
        firstPosition: 1,
        lastPosition: 129,
        entryCount: 120,
        entryBytes: 4096,
        size: 5755,
        sha256: (0..<32).map { UInt8($0 * 7 & 0xFF) }
    )

    static let runningBackup = BackupInfo(
        id: "replog-backup-2026-11-23-12-00",
        label: "",
        status: .backingUp,
        createdAtMilliseconds: 1_795_435_200_000,
        firstPosition: 100,
        lastPosition: 129,
        entryCount: 12,
        entryBytes: 300,
        size: 512
    )

    static let failedBackup = BackupInfo(
        id: "replog-backup-2026-11-23-13-00",
        label: "",
        status: .error,
        reason: "no VOTING replica answered",
        createdAtMilliseconds: 1_795_438_800_000,
        firstPosition: 100,
        lastPosition: 140,
        entryCount: 0,
        entryBytes: 0,
        size: 0
    )

    /// The backup operations (0x50-0x59), with each status and an empty and a full digest.
    static let backupSamples: [Sample] = [
        Sample(
            name: "backup_create_request",
            envelope: .request(.backupCreateRequest(BackupCreateRequest(label: "before-upgrade")), id: 60)
        ),
        Sample(
            name: "backup_create_response",
            envelope: .response(.backupCreateResponse(runningBackup), to: 60)
        ),
        Sample(name: "backup_list_request", envelope: .request(.backupListRequest(BackupListRequest()), id: 61)),
        Sample(
            name: "backup_list_response",
            envelope: .response(
                .backupListResponse(BackupListResponse(backups: [readyBackup, runningBackup, failedBackup])),
                to: 61
            )
        ),
        Sample(
            name: "backup_show_request",
            envelope: .request(.backupShowRequest(BackupReference(id: readyBackup.id)), id: 62)
        ),
        Sample(name: "backup_show_response", envelope: .response(.backupShowResponse(readyBackup), to: 62)),
        Sample(
            name: "backup_delete_request",
            envelope: .request(.backupDeleteRequest(BackupReference(id: "replog-backup-2026-11-23-12-00")), id: 63)
        ),
        Sample(
            name: "backup_delete_response",
            envelope: .response(.backupDeleteResponse(BackupReference(id: "replog-backup-2026-11-23-12-00")), to: 63)
        ),
        Sample(
            name: "backup_fetch_request",
            envelope: .request(
                .backupFetchRequest(BackupFetchRequest(id: readyBackup.id, offset: 4096, maxBytes: 8 << 20)),
                id: 64
            )
        ),
        Sample(
            name: "backup_fetch_response",
            envelope: .response(
                .backupFetchResponse(BackupFetchResponse(offset: 4096, size: 5755, data: bytes("RPLGBKUP"))),
                to: 64
            )
        ),
    ]
}
