/// A position in the replicated log.
///
/// Positions start at 0 and only grow. They are plain integers on purpose: the wire format, the
/// store and the consensus core all do arithmetic on them (ranges, `end + 1`, batches).
public typealias Position = UInt64

/// A Paxos proposal number (ballot).
///
/// `0` means "no proposal yet": every real proposal a coordinator makes is at least `1`, so a fresh
/// replica that has promised nothing has `promised == 0`.
public typealias Proposal = UInt64
