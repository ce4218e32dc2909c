public import ReplogModel
import ReplogWire

/// What is wrong with a replica's disk, for its status, metrics and logs.
public struct ReplicaHealth: Sendable, Hashable {
    /// Positions whose records are damaged and not served (ascending); they heal when the replica
    /// learns them again from its peers.
    public var damagedPositions: [Position]
    /// Damaged regions whose position is unknown; while there is any the replica takes no votes.
    public var unknownDamage: [String]
    /// Why the store stopped writing, once it has; the replica then answers nothing but status.
    public var storageFailure: String?

    /// Whether nothing is wrong.
    public var isHealthy: Bool { damagedPositions.isEmpty && unknownDamage.isEmpty && storageFailure == nil }

    /// One line for an operator, empty when nothing is wrong.
    public var problem: String {
        var parts: [String] = []
        if let storageFailure { parts.append("storage failed, restart the replica: \(storageFailure)") }
        if !unknownDamage.isEmpty {
            parts.append("damage at unknown positions, not voting: re-create this replica (\(unknownDamage[0]))")
        }
        if !damagedPositions.isEmpty {
            let listed = damagedPositions.prefix(8).map(String.init).joined(separator: ", ")
            let more = damagedPositions.count > 8 ? ", ..." : ""
            parts.append(
                "\(damagedPositions.count) damaged position(s) not served until learned again: \(listed)\(more)"
            )
        }
        return parts.joined(separator: "; ")
    }
}

extension ReplicaNode {
    /// What is wrong with this replica's disk right now.
    public var health: ReplicaHealth {
        ReplicaHealth(
            damagedPositions: store.damagedPositions,
            unknownDamage: store.store.damageOfUnknownPosition.map(\.description),
            storageFailure: storageFailure
        )
    }

    /// The refusal to send instead of letting the core vote on a damaged position, or nil.
    func damageRefusal(for message: Message) -> ErrorReply? {
        let store = self.store
        guard store.mayHoldDamage else { return nil }
        let damaged = store.damagedPositions
        let refusal = DamageGuard(
            replica: "replica \(configuration.id.rawValue)",
            isDamaged: { store.isDamaged($0) },
            highestDamaged: damaged.last,
            unknownDamage: store.store.damageOfUnknownPosition.map(\.description),
            end: store.end
        ).refusal(for: message)
        if let refusal {
            metrics.damageRefusals.increment()
            logger.warning(
                "refused to vote on damaged records",
                metadata: ["paxos/message": "\(message.type)", "storage/damage": "\(refusal.text)"]
            )
        }
        return refusal
    }

    /// This replica as a `StatusResponse` about itself (what a coordinator's `replog status` shows).
    func statusReport() -> StatusResponse {
        let health = self.health
        let own = configuration.replicas[configuration.id].map { "\($0)" } ?? ""
        let info = ReplicaInfo(
            id: configuration.id.wireName,
            address: own,
            reachable: true,
            status: status,
            begin: begin,
            end: end,
            damaged: Array(health.damagedPositions.prefix(64)),
            problem: Self.clamp(health.problem, toBytes: Int(WireLimits.maxIdentifierLength))
        )
        return StatusResponse(
            clusterID: configuration.clusterID,
            leader: LeaderResponse(leaderID: "", leaderAddress: "", proposal: 0),
            replicas: [info]
        )
    }

    /// Logs the damage recovery found, once, when the replica starts: the replica runs, but it
    /// must not look as if nothing happened.
    func reportDamage() {
        metrics.storageFailed.record(0)
        let health = self.health
        guard !health.isHealthy else { return }
        logger.error(
            """
            the store holds damaged records: those positions are not served and get no vote until they are \
            learned again from the peers
            """,
            metadata: [
                "storage/damaged_positions": "\(health.damagedPositions)",
                "storage/unknown_damage": "\(health.unknownDamage)",
                "storage/problem": "\(health.problem)",
            ]
        )
    }

    /// `text` cut to at most `limit` bytes of UTF-8, at a character boundary.
    static func clamp(_ text: String, toBytes limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var result = ""
        for character in text {
            if result.utf8.count + String(character).utf8.count > limit - 3 { break }
            result.append(character)
        }
        return result + "..."
    }
}
