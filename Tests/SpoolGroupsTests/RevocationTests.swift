import SpoolCore
import SpoolGroups
import Testing

@Suite("Cooperative revocation: revoke, confirm, then assign")
struct RevocationTests {
    /// c1 owns orders/0...3; c2 joins, so orders/2 and orders/3 move.
    func groupWithPendingMoves(revocationTimeoutMs: Int64 = 10_000) -> GroupCoordinator {
        var group = makeGroup(revocationTimeoutMs: revocationTimeoutMs)
        join(&group, "c1", ["orders": 4], now: 0)
        let actions = join(&group, "c2", ["orders": 4], now: 100)
        #expect(actions == [.revoke("c1", [tp("orders", 2), tp("orders", 3)], Generation(2))])
        return group
    }

    @Test func newOwnerIsAssignedOnlyAfterTheOldOneConfirms() {
        var group = groupWithPendingMoves()
        #expect(group.owner(of: tp("orders", 3)) == "c1")
        #expect(group.checkCommit(member: "c1", tp("orders", 3)) == .allowed)
        #expect(!group.checkCommit(member: "c2", tp("orders", 3)).isAllowed)
        #expect(group.snapshot().pendingMoves.map(\.to) == ["c2", "c2"])
        expectSound(group)

        #expect(group.revocationCompleted("c1", [tp("orders", 3)], now: 200) == [.assign("c2", [tp("orders", 3)], Generation(2))])
        #expect(group.owner(of: tp("orders", 3)) == "c2")
        #expect(group.owner(of: tp("orders", 2)) == "c1")
        #expect(group.revocationCompleted("c1", [tp("orders", 2)], now: 200) == [.assign("c2", [tp("orders", 2)], Generation(2))])
        expectSettledAndBalanced(group)
    }

    @Test func staleOwnerCommitIsRejectedAfterTheRevocation() {
        var group = groupWithPendingMoves()
        _ = group.revocationCompleted("c1", [tp("orders", 2), tp("orders", 3)], now: 200)
        let check = group.checkCommit(member: "c1", tp("orders", 3))
        #expect(check == .notOwner(message: "c1 does not own orders/3 in group billing generation 2 (owned by c2)"))
        #expect(check.message != nil)
        #expect(group.checkCommit(member: "c2", tp("orders", 3)) == .allowed)
        #expect(group.checkCommit(member: "c1", tp("orders", 0)) == .allowed)
    }

    @Test func confirmationsFromTheWrongMemberOrRepeatedAreIgnored() {
        var group = groupWithPendingMoves()
        #expect(group.revocationCompleted("c2", [tp("orders", 3)], now: 200) == [])
        #expect(group.revocationCompleted("c1", [tp("orders", 0)], now: 200) == [])
        #expect(group.owner(of: tp("orders", 3)) == "c1")
        _ = group.revocationCompleted("c1", [tp("orders", 3), tp("orders", 3)], now: 200)
        #expect(group.revocationCompleted("c1", [tp("orders", 3)], now: 300) == [])
        #expect(group.owner(of: tp("orders", 3)) == "c2")
    }

    @Test func unconfirmedRevocationIsForcedAfterTheTimeout() {
        var group = groupWithPendingMoves(revocationTimeoutMs: 5_000)
        #expect(group.tick(now: 5_100) == [])
        #expect(group.owner(of: tp("orders", 2)) == "c1")
        #expect(group.tick(now: 5_101) == [.assign("c2", [tp("orders", 2), tp("orders", 3)], Generation(2))])
        #expect(group.checkCommit(member: "c1", tp("orders", 2)) == .notOwner(message: "c1 does not own orders/2 in group billing generation 2 (owned by c2)"))
        expectSettledAndBalanced(group)
    }

    @Test func oldOwnerLeavingMidRevocationHandsEverythingOverAtOnce() {
        var group = groupWithPendingMoves()
        #expect(group.leave("c1", now: 200) == [.assign("c2", tps("orders", 0...3), Generation(3))])
        #expect(group.snapshot().pendingMoves == [])
        expectSettledAndBalanced(group)
    }

    @Test func oldOwnerExpiringMidRevocationHandsEverythingOverAtOnce() {
        var group = makeGroup()
        _ = group.join("c1", topics: [topic("orders"): 4], sessionTimeoutMs: 1_000, now: 0)
        _ = group.join("c2", topics: [topic("orders"): 4], sessionTimeoutMs: 100_000, now: 0)
        #expect(group.tick(now: 1_001) == [.removed("c1", .sessionExpired), .assign("c2", tps("orders", 0...3), Generation(3))])
        expectSettledAndBalanced(group)
    }

    @Test func newOwnerLeavingMidRevocationRedirectsTheMove() {
        var group = groupWithPendingMoves()
        #expect(group.leave("c2", now: 200) == [])
        // The revocation already went out, so it completes, and c1 gets them back.
        #expect(group.snapshot().pendingMoves.map(\.to) == ["c1", "c1"])
        #expect(group.owner(of: tp("orders", 2)) == "c1")
        expectSound(group)
        #expect(group.revocationCompleted("c1", [tp("orders", 2), tp("orders", 3)], now: 300)
            == [.assign("c1", [tp("orders", 2), tp("orders", 3)], Generation(3))])
        expectSettledAndBalanced(group)
    }

    @Test func aThirdMemberJoiningMidRevocationRetargetsWithoutNewPauses() {
        var group = groupWithPendingMoves()
        let actions = join(&group, "c3", ["orders": 4], now: 150)
        // c1 still holds 4 (2 leaving); balance is 2/1/1, so one of c1's remaining pair moves.
        #expect(revokedPartitions(actions).count == 1)
        #expect(assignedPartitions(actions) == [])
        expectSound(group)
        completeAllRevocations(&group)
        #expect(ownership(group).values.map(\.count).sorted() == [1, 1, 2])
        expectSettledAndBalanced(group)
    }

    @Test func droppingTheTopicMidRevocationReleasesAtOnceAndSaysSoAgain() {
        var group = groupWithPendingMoves()
        join(&group, "c2", ["orders": 4], now: 100)
        let actions = join(&group, "c1", [:], now: 150)
        #expect(actions == [
            .revoke("c1", tps("orders", 0...3), Generation(3)),
            .assign("c2", tps("orders", 0...3), Generation(3)),
        ])
        #expect(group.snapshot().pendingMoves == [])
        // The driver's late confirmation of the first revocation is harmless.
        #expect(group.revocationCompleted("c1", [tp("orders", 2)], now: 200) == [])
        #expect(group.owner(of: tp("orders", 2)) == "c2")
        expectSettledAndBalanced(group)
    }

    @Test func commitFromAStrangerIsAnUnknownMember() {
        let group = groupWithPendingMoves()
        #expect(group.checkCommit(member: "ghost", tp("orders", 0)) == .unknownMember(message: "ghost is not a member of group billing"))
    }
}
