public import ReplogModel

/// Proposal numbers that no two proposers can share.
///
/// The low byte of every proposal a proposer makes is its proposer id, so two coordinators (or a
/// coordinator and a replica filling holes during recovery) never use the same number: a value is
/// then identified by `(position, proposal)`, which is what ``LearnedRange`` relies on.
public enum ProposalNumbers {
    /// A proposal owned by `proposer`, strictly above `floor`: the proposer's number in the round
    /// after `floor`'s round.
    public static func next(above floor: Proposal, proposer: UInt8) -> Proposal {
        let round = (floor >> 8) &+ 1
        let candidate = (round << 8) | Proposal(proposer)
        if candidate > floor { return candidate }
        return ((round &+ 1) << 8) | Proposal(proposer)
    }
}
