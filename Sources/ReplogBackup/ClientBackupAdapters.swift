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

    public func batch(from: Position, to: Position) async throws -> BackupBatch {
        let page = try await client.readPage(from: from, to: to)
        return BackupBatch(
            entries: page.entries.map { BackupEntry(position: $0.position, bytes: $0.bytes) },
            next: page.next
        )
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
