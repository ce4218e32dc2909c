public import ReplogWire

/// Staged recovery on the leading coordinator (`replog recovery ...`); see `Protocol/SPEC.md`
/// section 5.5. Every call goes to the leader, following redirects like the other operations.
extension ReplogClient {
    /// Stages a backup (from the coordinator's backup directory or a finished upload).
    public func recoveryStage(_ request: RecoveryStageRequest) async throws -> RecoveryStatusResponse {
        try status(of: "recovery stage", await perform("recovery stage", .recoveryStageRequest(request)))
    }

    /// Sends one chunk of a backup file.
    public func recoveryUpload(_ request: RecoveryUploadRequest) async throws -> RecoveryUploadResponse {
        let answer = try await perform("recovery upload", .recoveryUploadRequest(request))
        guard case .recoveryUploadResponse(let response) = answer else {
            throw unexpected("recovery upload", answer)
        }
        return response
    }

    /// One page of the staged copy.
    public func recoveryPrint(_ request: RecoveryPrintRequest) async throws -> RecoveryPrintResponse {
        let answer = try await perform("recovery print", .recoveryPrintRequest(request))
        guard case .recoveryPrintResponse(let response) = answer else { throw unexpected("recovery print", answer) }
        return response
    }

    /// Deletes entries from the staged copy.
    public func recoveryDelete(_ request: RecoveryDeleteRequest) async throws -> RecoveryDeleteResponse {
        let answer = try await perform("recovery delete", .recoveryDeleteRequest(request))
        guard case .recoveryDeleteResponse(let response) = answer else { throw unexpected("recovery delete", answer) }
        return response
    }

    /// Where the staged recovery stands.
    public func recoveryStatus() async throws -> RecoveryStatusResponse {
        try status(of: "recovery status", await perform("recovery status", .recoveryStatusRequest))
    }

    /// Starts committing the staged copy; follow it with ``recoveryStatus()``.
    public func recoveryCommit() async throws -> RecoveryStatusResponse {
        try status(of: "recovery commit", await perform("recovery commit", .recoveryCommitRequest))
    }

    /// Unloads the staged copy (nothing happens when none is staged).
    public func recoveryUnload() async throws -> RecoveryStatusResponse {
        try status(of: "recovery unload", await perform("recovery unload", .recoveryUnloadRequest))
    }

    private func status(of operation: String, _ answer: Message) throws -> RecoveryStatusResponse {
        guard case .recoveryStatusResponse(let response) = answer else { throw unexpected(operation, answer) }
        return response
    }

    private func unexpected(_ operation: String, _ answer: Message) -> ReplogClientError {
        .unexpectedAnswer(operation: operation, answer: MessageTypeName(name: "\(answer.type)"))
    }
}
