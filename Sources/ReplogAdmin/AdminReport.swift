/// What the admin endpoint reports about its process, asked for on every request.
public struct AdminReport: Sendable, Hashable {
    /// `/ready`: a replica is ready when VOTING and caught up; a coordinator when it leads or
    /// knows the leader.
    public var ready: Bool
    /// Why the process is not ready (shown in `/ready`'s 503 body), or a short state when it is.
    public var reason: String
    /// The body of `/status`: a JSON object.
    public var statusJSON: String

    public init(ready: Bool, reason: String, statusJSON: String) {
        self.ready = ready
        self.reason = reason
        self.statusJSON = statusJSON
    }
}
