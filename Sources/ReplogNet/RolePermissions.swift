public import ReplogModel
public import ReplogWire

/// Which messages each role may send to an endpoint, on top of which roles may connect at all
/// (the hello's check). A request a role may not send is answered `Error(roleNotAllowed)` and the
/// connection is closed (SPEC.md section 6: "the peer's role may not use this endpoint or message").
///
/// ```swift
/// // A replica: tools may ask its status, and nothing else.
/// let permissions = RolePermissions.unrestricted.restricting(.tool, to: [.statusRequest])
/// ```
public struct RolePermissions: Sendable {
    private var limits: [NodeRole: Set<MessageType>] = [:]

    /// Every role that may connect may send every message.
    public static let unrestricted = RolePermissions()

    /// These permissions, with `role` allowed only `types` (and pings, which any peer may send).
    public func restricting(_ role: NodeRole, to types: Set<MessageType>) -> RolePermissions {
        var copy = self
        copy.limits[role] = types
        return copy
    }

    /// Whether a peer of `role` may send a message of `type`.
    public func permits(_ role: NodeRole, _ type: MessageType) -> Bool {
        guard let allowed = limits[role] else { return true }
        return type == .ping || allowed.contains(type)
    }

    /// The messages `role` may send, for error texts (nil when it may send any).
    public func allowedTypes(for role: NodeRole) -> Set<MessageType>? { limits[role] }
}
