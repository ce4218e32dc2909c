/// The membership status of a replica, as in the Mesos replicated log.
///
/// A replica answers promises and writes only while ``voting``. A replica whose storage was just
/// created is ``empty``; it becomes ``voting`` either through `replog initialize`, through the
/// auto-initialize path (``starting``), or through the recover protocol (``recovering``).
public enum ReplicaStatus: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Never initialized: answers recover requests with its status and ignores everything else.
    case empty = 0
    /// Phase one of auto-initialization of a brand-new cluster.
    case starting = 1
    /// Catching up with the VOTING replicas before it may vote.
    case recovering = 2
    /// A full member: it promises, accepts writes and learns.
    case voting = 3

    public var description: String {
        switch self {
        case .empty: "EMPTY"
        case .starting: "STARTING"
        case .recovering: "RECOVERING"
        case .voting: "VOTING"
        }
    }
}
