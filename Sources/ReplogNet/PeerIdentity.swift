public import ReplogModel
public import ReplogWire

/// Who a process is on the wire: what it says in its hello.
public struct PeerIdentity: Sendable, Hashable, CustomStringConvertible {
    public var clusterID: ClusterID
    public var role: NodeRole
    public var nodeID: String

    public init(clusterID: ClusterID, role: NodeRole, nodeID: String) {
        self.clusterID = clusterID
        self.role = role
        self.nodeID = nodeID
    }

    public var description: String { "\(role) \(nodeID)" }

    /// The hello this identity opens a connection with.
    public func hello(maxFrameSize: UInt32 = WireLimits.maxFrameSize) -> Hello {
        Hello(clusterID: clusterID, role: role, nodeID: nodeID, maxFrameSize: maxFrameSize)
    }
}

/// The far end of an established connection, as its hello (or hello-ack) described it.
public struct ConnectedPeer: Sendable, Hashable, CustomStringConvertible {
    public var identity: PeerIdentity
    /// The protocol version both sides speak on this connection.
    public var version: UInt8
    /// The largest frame payload the peer accepts.
    public var maxFrameSize: UInt32
    /// `HOST:PORT` of the peer's socket, for logs.
    public var address: String

    public init(identity: PeerIdentity, version: UInt8, maxFrameSize: UInt32, address: String) {
        self.identity = identity
        self.version = version
        self.maxFrameSize = maxFrameSize
        self.address = address
    }

    public var description: String { "\(identity) at \(address)" }
}
