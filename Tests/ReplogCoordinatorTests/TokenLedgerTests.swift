import ReplogModel
import ReplogWire
import Testing

@testable import ReplogCoordinator

/// Which appends of an earlier leader a coordinator that takes over counts as applied.
@Suite struct TokenLedgerTests {
    let old: Proposal = 0x0365
    let older: Proposal = 0x0265

    func token(_ sequence: UInt64) -> AppendToken { AppendToken(client: 9, sequence: sequence) }

    func assignment(_ sequence: UInt64, at position: Position, count: UInt32 = 1) -> TokenAssignment {
        TokenAssignment(token: token(sequence), position: position, count: count)
    }

    func appliedTokens(_ ledger: TokenLedger, origins: [Position: Proposal] = [:]) -> [UInt64: AppendResponse] {
        Dictionary(uniqueKeysWithValues: ledger.applied(origins: origins).map { ($0.token.sequence, $0.response) })
    }

    @Test func appendsTheirLeaderReportedLearnedAreApplied() {
        var ledger = TokenLedger(capacity: 100)
        ledger.record([assignment(1, at: 10), assignment(2, at: 11, count: 3)], proposal: old)
        ledger.confirm(learnedThrough: 12, proposal: old)
        // Positions 11...13: only partly learned, and the fill knows nothing of them.
        #expect(appliedTokens(ledger) == [1: AppendResponse(position: 10, count: 1)])
        ledger.confirm(learnedThrough: 13, proposal: old)
        #expect(appliedTokens(ledger)[2] == AppendResponse(position: 11, count: 3))
    }

    @Test func learnedUnderAnotherProposalDoesNotCount() {
        // The old leader placed an append at 10, lost leadership before it was chosen, won again
        // with a new proposal and gave position 10 to something else, which was learned.
        var ledger = TokenLedger(capacity: 100)
        ledger.record([assignment(1, at: 10)], proposal: older)
        ledger.record([assignment(2, at: 10)], proposal: old)
        ledger.confirm(learnedThrough: 10, proposal: old)
        #expect(appliedTokens(ledger).keys.sorted() == [2])
    }

    @Test func theFillDecidesForPositionsNotYetLearned() {
        var ledger = TokenLedger(capacity: 100)
        ledger.record([assignment(1, at: 20), assignment(2, at: 21, count: 2), assignment(3, at: 23)], proposal: old)
        let origins: [Position: Proposal] = [20: old, 21: old, 22: older]
        // 1: its value was found and kept. 2: one of its positions holds another proposal's
        // value. 3: its position got a NOP (no origin): it was never chosen.
        #expect(appliedTokens(ledger, origins: origins).keys.sorted() == [1])
    }

    @Test func theOldestAssignmentsAreForgottenBeyondTheCapacity() {
        var ledger = TokenLedger(capacity: 2)
        ledger.record([assignment(1, at: 1), assignment(2, at: 2), assignment(3, at: 3)], proposal: old)
        ledger.confirm(learnedThrough: 3, proposal: old)
        #expect(appliedTokens(ledger).keys.sorted() == [2, 3])
        #expect(ledger.entries.count == 2)
    }

    @Test func appendsWithoutATokenAreNotRecorded() {
        var ledger = TokenLedger(capacity: 10)
        ledger.record([TokenAssignment(token: .none, position: 1, count: 1)], proposal: old)
        #expect(ledger.entries.isEmpty)
    }
}
