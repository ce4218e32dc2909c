public import ReplogWire

/// The leading coordinator's backups (`Protocol/SPEC.md` section 5.4).
extension ReplogClient {
    /// Starts a backup labelled `label`; returns it as soon as its range is fixed (BACKING_UP).
    public func createBackup(label: String) async throws -> BackupInfo {
        let answer = try await perform("backup create", .backupCreateRequest(BackupCreateRequest(label: label)))
        guard case .backupCreateResponse(let info) = answer else { throw unexpected("backup create", answer) }
        return info
    }

    /// The backups, oldest first; only those labelled `label` unless it is empty.
    public func listBackups(label: String = "") async throws -> [BackupInfo] {
        let answer = try await perform("backup list", .backupListRequest(BackupListRequest(label: label)))
        guard case .backupListResponse(let response) = answer else { throw unexpected("backup list", answer) }
        return response.backups
    }

    public func showBackup(_ id: String) async throws -> BackupInfo {
        let answer = try await perform("backup show", .backupShowRequest(BackupReference(id: id)))
        guard case .backupShowResponse(let info) = answer else { throw unexpected("backup show", answer) }
        return info
    }

    public func deleteBackup(_ id: String) async throws {
        let answer = try await perform("backup delete", .backupDeleteRequest(BackupReference(id: id)))
        guard case .backupDeleteResponse = answer else { throw unexpected("backup delete", answer) }
    }

    /// Up to `maxBytes` bytes of backup `id`'s file from `offset`, and the file's size.
    public func fetchBackupChunk(_ id: String, offset: UInt64, maxBytes: UInt32) async throws -> BackupFetchResponse {
        let request = BackupFetchRequest(id: id, offset: offset, maxBytes: maxBytes)
        let answer = try await perform("backup fetch", .backupFetchRequest(request))
        guard case .backupFetchResponse(let response) = answer, response.offset == offset,
            response.data.readableBytes <= Int(maxBytes), offset + UInt64(response.data.readableBytes) <= response.size
        else { throw unexpected("backup fetch", answer) }
        return response
    }

    private nonisolated func unexpected(_ operation: String, _ answer: Message) -> ReplogClientError {
        .unexpectedAnswer(operation: operation, answer: MessageTypeName(name: "\(answer.type)"))
    }
}
