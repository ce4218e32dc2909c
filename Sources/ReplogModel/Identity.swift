/// The role a process plays in a replog cluster; carried in the hello handshake and certificates.
public enum NodeRole: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// A replica process: stores the log and votes.
    case replica = 1
    /// A coordinator process: proposes, turning client appends into quorum writes.
    case coordinator = 2
    /// An application using the client library or the CLI.
    case client = 3
    /// An operator tool (backup, restore, inspection) acting with client rights plus tool operations.
    case tool = 4

    public var description: String {
        switch self {
        case .replica: "replica"
        case .coordinator: "coordinator"
        case .client: "client"
        case .tool: "tool"
        }
    }
}

/// The 16-byte identity of a cluster, fixed when the cluster is created.
///
/// Every connection states it in its hello so that processes of two different clusters refuse
/// to talk to each other.
public struct ClusterID: Sendable, Hashable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The nil id (all zero): "not known yet", which only clients and tools may send.
    public static let unknown = ClusterID(high: 0, low: 0)

    /// Parses the canonical 8-4-4-4-12 hexadecimal form (case-insensitive).
    public init?(_ text: String) {
        let hex = text.filter { $0 != "-" }
        guard hex.count == 32, text.count == 36 || text.count == 32,
            let high = UInt64(hex.prefix(16), radix: 16), let low = UInt64(hex.suffix(16), radix: 16)
        else { return nil }
        self.init(high: high, low: low)
    }

    /// The canonical lowercase 8-4-4-4-12 form.
    public var description: String {
        let hex = Self.hex(high) + Self.hex(low)
        let cuts = [8, 12, 16, 20]
        var out = ""
        for (index, character) in hex.enumerated() {
            if cuts.contains(index) { out.append("-") }
            out.append(character)
        }
        return out
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
