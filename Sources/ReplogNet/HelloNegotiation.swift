public import ReplogModel
public import ReplogWire

/// The accepting side's decision on a ``Hello``, as a pure function (SPEC.md section 4).
public struct HelloNegotiation: Sendable {
    public var local: PeerIdentity
    public var supportedVersions: ClosedRange<UInt8>
    public var maxFrameSize: UInt32
    /// The roles this endpoint serves; others are refused with `roleNotAllowed`.
    public var allowedRoles: Set<NodeRole>

    public init(
        local: PeerIdentity,
        allowedRoles: Set<NodeRole>,
        supportedVersions: ClosedRange<UInt8> = WireLimits.protocolVersion...WireLimits.protocolVersion,
        maxFrameSize: UInt32 = WireLimits.maxFrameSize
    ) {
        self.local = local
        self.allowedRoles = allowedRoles
        self.supportedVersions = supportedVersions
        self.maxFrameSize = maxFrameSize
    }

    /// The hello-ack to send, or the error to send before closing.
    public func answer(_ hello: Hello) -> Result<HelloAck, ErrorReply> {
        let common =
            max(
                hello.minVersion,
                supportedVersions.lowerBound
            )...max(
                hello.minVersion,
                min(hello.maxVersion, supportedVersions.upperBound)
            )
        guard hello.minVersion <= supportedVersions.upperBound, hello.maxVersion >= supportedVersions.lowerBound,
            common.upperBound >= common.lowerBound
        else {
            return .failure(
                ErrorReply(
                    code: .unsupportedVersion,
                    value: UInt64(supportedVersions.upperBound),
                    text:
                        "\(hello.role) \(hello.nodeID) speaks protocol versions \(hello.minVersion)...\(hello.maxVersion)"
                        + " but \(local) speaks \(supportedVersions.lowerBound)...\(supportedVersions.upperBound):"
                        + " upgrade the older side"
                )
            )
        }
        // A client or tool that does not know the cluster id yet sends the nil id and learns the id
        // from the hello-ack; its certificate already ties it to this cluster's CA.
        let unknownAllowed = hello.clusterID == ClusterID.unknown && (hello.role == .client || hello.role == .tool)
        guard hello.clusterID == local.clusterID || unknownAllowed else {
            return .failure(
                ErrorReply(
                    code: .clusterMismatch,
                    text: "\(hello.role) \(hello.nodeID) belongs to cluster \(hello.clusterID) but \(local) belongs to"
                        + " cluster \(local.clusterID): check the peer's --cluster-id and storage"
                )
            )
        }
        guard allowedRoles.contains(hello.role) else {
            let allowed = allowedRoles.map(\.description).sorted().joined(separator: ", ")
            return .failure(
                ErrorReply(
                    code: .roleNotAllowed,
                    text: "\(local) does not serve \(hello.role)s (it serves: \(allowed))"
                )
            )
        }
        return .success(
            HelloAck(
                version: common.upperBound,
                clusterID: local.clusterID,
                role: local.role,
                nodeID: local.nodeID,
                maxFrameSize: maxFrameSize
            )
        )
    }
}
