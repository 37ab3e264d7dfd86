import SpoolCore
import SpoolGroups
import Testing

@Suite("Topics growing, shrinking and disappearing")
struct TopicChangeTests {
    @Test func growingAssignsTheNewPartitionsWithoutMovingOldOnes() {
        var group = settledGroup(["c1", "c2"], ["orders": 4])
        let before = ownership(group)
        let actions = group.partitionCountChanged(topic: topic("orders"), count: 6, now: 1)
        #expect(actions == [.assign("c1", [tp("orders", 4)], Generation(3)), .assign("c2", [tp("orders", 5)], Generation(3))])
        #expect(ownership(group)["c1"] == before["c1"]! + [tp("orders", 4)])
        expectSettledAndBalanced(group)
    }

    @Test func droppingATopicReleasesItsPartitionsAtOnce() {
        var group = settledGroup(["c1", "c2"], ["orders": 2, "audit": 2])
        // c1 joined first with everything; c2 took the two highest partitions, orders/0 and orders/1.
        #expect(ownership(group)["c2"] == tps("orders", 0...1))
        let actions = group.partitionCountChanged(topic: topic("orders"), count: 0, now: 1)
        // c2's orders partitions are gone at once (nothing to wait for); c2 is now empty-handed,
        // so one audit partition starts moving to it.
        #expect(actions == [
            .revoke("c1", [tp("audit", 1)], Generation(3)),
            .revoke("c2", tps("orders", 0...1), Generation(3)),
        ])
        #expect(group.owner(of: tp("orders", 0)) == nil)
        #expect(group.snapshot().topics.first { $0.name == topic("orders") }?.partitionCount == 0)
        #expect(group.checkCommit(member: "c2", tp("orders", 0)) == .notOwner(message: "c2 does not own orders/0 in group billing generation 3 (not owned by anyone)"))
        expectSound(group)
        #expect(completeAllRevocations(&group) == [.assign("c2", [tp("audit", 1)], Generation(3))])
        expectSettledAndBalanced(group)
    }

    @Test func shrinkingReleasesOnlyTheLostPartitions() {
        var group = settledGroup(["c1", "c2", "c3"], ["orders": 6])
        let actions = group.partitionCountChanged(topic: topic("orders"), count: 3, now: 1)
        #expect(Set(revokedPartitions(actions)).isSuperset(of: tps("orders", 3...5)))
        expectSound(group)
        completeAllRevocations(&group)
        #expect(ownership(group).values.map(\.count) == [1, 1, 1])
        expectSettledAndBalanced(group)
    }

    @Test func aTopicComingBackIsAssignedAgain() {
        var group = settledGroup(["c1"], ["orders": 2])
        _ = group.partitionCountChanged(topic: topic("orders"), count: 0, now: 1)
        #expect(group.partitionCountChanged(topic: topic("orders"), count: 1, now: 2) == [.assign("c1", [tp("orders", 0)], Generation(3))])
    }

    @Test func changesToTopicsNobodySubscribesToAreIgnored() {
        var group = settledGroup(["c1"], ["orders": 2])
        #expect(group.partitionCountChanged(topic: topic("audit"), count: 9, now: 1) == [])
        #expect(group.generation == Generation(1))
        #expect(group.snapshot().topics.map(\.name) == [topic("orders")])
    }

    @Test func aJoinReportingANewCountUpdatesTheGroup() {
        var group = settledGroup(["c1"], ["orders": 2])
        let actions = join(&group, "c2", ["orders": 4])
        #expect(group.snapshot().topics.map(\.partitionCount) == [4])
        #expect(actions == [.assign("c2", [tp("orders", 2), tp("orders", 3)], Generation(2))])
        expectSettledAndBalanced(group)
    }

    @Test func topicsNobodySubscribesToAnyMoreAreForgotten() {
        var group = settledGroup(["c1", "c2"], ["orders": 2])
        join(&group, "c3", ["audit": 1])
        _ = group.leave("c3", now: 1)
        #expect(group.snapshot().topics.map(\.name) == [topic("orders")])
    }
}
