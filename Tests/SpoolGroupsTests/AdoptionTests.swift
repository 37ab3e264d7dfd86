import SpoolCore
import SpoolGroups
import Testing

/// A coordinator taking a group over learns it from the members' reports: what each holds
/// stays where it is (docs/cluster.md "Consumer groups in a cluster").
@Suite("Taking a group over")
struct AdoptionTests {
    @Test func reportedHoldingsStayAndNothingMovesUntilSettle() {
        var group = makeGroup()
        let first = group.adopt("a", topics: [topic("orders"): 6], sessionTimeoutMs: 6_000, held: tps("orders", 0...1), generation: Generation(41), now: 0, rebalance: false)
        #expect(first == [.assign("a", tps("orders", 0...1), Generation(41))])
        let second = group.adopt("b", topics: [topic("orders"): 6], sessionTimeoutMs: 6_000, held: tps("orders", 2...3), generation: Generation(40), now: 10, rebalance: false)
        #expect(second == [.assign("b", tps("orders", 2...3), Generation(41))])
        // Partitions 4 and 5 belonged to a member nobody reported: free, not given away yet.
        #expect(group.owner(of: tp("orders", 4)) == nil)
        #expect(group.awaitsSettle && group.hasFreePartitions)
        #expect(GroupInvariants.violations(in: group.snapshot(), complete: false) == [])
        #expect(GroupInvariants.violations(in: group.snapshot()) == ["orders/4 has no owner", "orders/5 has no owner"])
        let settled = group.settle(now: 20)
        #expect(group.generation == Generation(42))
        #expect(Set(assignedPartitions(settled)) == [tp("orders", 4), tp("orders", 5)])
        #expect(revokedPartitions(settled) == [], "the holders keep what they reported")
        #expect(!group.awaitsSettle && !group.hasFreePartitions)
        expectSettledAndBalanced(group)
    }

    @Test func aPartitionReportedTwiceStaysWithTheFirstAndTheOtherIsToldToStop() {
        var group = makeGroup()
        _ = group.adopt("a", topics: [topic("orders"): 2], sessionTimeoutMs: 6_000, held: [tp("orders", 0)], generation: Generation(5), now: 0, rebalance: false)
        let second = group.adopt("b", topics: [topic("orders"): 2], sessionTimeoutMs: 6_000, held: tps("orders", 0...1), generation: Generation(5), now: 0, rebalance: false)
        #expect(second == [.revoke("b", [tp("orders", 0)], Generation(5)), .assign("b", [tp("orders", 1)], Generation(5))])
        #expect(group.owner(of: tp("orders", 0)) == "a")
        expectSound(group)
    }

    @Test func aHeldPartitionThatNoLongerExistsOrIsNotSubscribedIsRevoked() {
        var group = makeGroup()
        let actions = group.adopt("a", topics: [topic("orders"): 2], sessionTimeoutMs: 6_000, held: [tp("orders", 1), tp("orders", 7), tp("refunds", 0)], generation: .initial, now: 0, rebalance: false)
        #expect(actions == [.revoke("a", [tp("orders", 7), tp("refunds", 0)], Generation(0)), .assign("a", [tp("orders", 1)], Generation(0))])
    }

    @Test func aLateReportAfterSettlingJoinsAndRebalances() {
        var group = makeGroup()
        _ = group.adopt("a", topics: [topic("orders"): 4], sessionTimeoutMs: 6_000, held: tps("orders", 0...3), generation: Generation(9), now: 0, rebalance: false)
        _ = group.settle(now: 1)
        let late = group.adopt("b", topics: [topic("orders"): 4], sessionTimeoutMs: 6_000, held: [], generation: .initial, now: 2, rebalance: true)
        #expect(revokedPartitions(late).count == 2, "b gets its share the cooperative way: revoked from a first")
        _ = completeAllRevocations(&group, now: 3)
        expectSettledAndBalanced(group)
    }

    @Test func aMemberAlreadyInTheGroupIsAJoin() {
        var group = settledGroup(["a"], ["orders": 2])
        #expect(group.adopt("a", topics: [topic("orders"): 2], sessionTimeoutMs: 6_000, held: [], generation: .initial, now: 5, rebalance: false) == [])
        #expect(group.partitions(ownedBy: "a") == tps("orders", 0...1))
    }
}
