public import ReplogModel
public import ReplogNet

/// Who may talk to a replica's port, and what they may send.
public enum ReplicaEndpoint {
    /// Replicas and coordinators (Paxos, recovery, catch-up) and tools; clients are refused at the
    /// hello with `roleNotAllowed`: they use coordinators.
    public static let allowedRoles: Set<NodeRole> = [.replica, .coordinator, .tool]

    /// Tools may only ask a replica's status: Paxos traffic comes from coordinators and replicas.
    public static let permissions = RolePermissions.unrestricted.restricting(.tool, to: [.statusRequest])
}
