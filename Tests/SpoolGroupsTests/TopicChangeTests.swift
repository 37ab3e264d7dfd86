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
        let before = ownership(group)
        let actions = group.partitionCountChanged(topic: topic("orders"), count: 0, now: 1)
        #expect(revokedPartitions(actions) == tps("orders", 0...1))
        #expect(group.owner(of: tp("orders", 0)) == nil)
        #expect(group.snapshot().topics.first { $0.name == topic("orders") }?.partitionCount == 0)
        #expect(!group.checkCommit(member: before["c1"]!.contains(tp("orders", 0)) ? "c1" : "c2", tp("orders", 0)).isAllowed)
        completeAllRevocations(&group)
        expectSettledAndBalanced(group)
        #expect(group.partitions(ownedBy: "c1").count + group.partitions(ownedBy: "c2").count == 2)
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
