public import ReplogClient
public import ReplogModel

/// A running cluster, reached through a ``ReplogClient``, as the source of a backup.
public struct ClientBackupSource: BackupSource {
    public let client: ReplogClient

    public init(client: ReplogClient) {
        self.client = client
    }

    public func positions() async throws -> (begin: Position, end: Position) {
        let positions = try await client.positions()
        return (positions.begin, positions.end)
    }

    public func entries(from: Position, to: Position) -> AsyncThrowingStream<BackupEntry, any Error> {
        let entries = client.read(from: from, to: to)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await entry in entries {
                        continuation.yield(BackupEntry(position: entry.position, bytes: entry.bytes))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// A running cluster, reached through a ``ReplogClient``, as the target of a restore.
public struct ClientBackupSink: BackupSink {
    public let client: ReplogClient

    public init(client: ReplogClient) {
        self.client = client
    }

    public func clusterID() async throws -> ClusterID {
        try await client.status().clusterID
    }

    public func positions() async throws -> (begin: Position, end: Position) {
        let positions = try await client.positions()
        return (positions.begin, positions.end)
    }

    public func append(_ entries: [BackupEntry]) async throws -> ClosedRange<Position> {
        try await client.append(batch: entries.map(\.bytes))
    }
}
