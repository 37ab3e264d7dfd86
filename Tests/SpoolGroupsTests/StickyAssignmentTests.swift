import SpoolCore
import SpoolGroups
import Testing

@Suite("Balanced, sticky assignment")
struct StickyAssignmentTests {
    @Test func joinToABalancedGroupMovesExactlyOnePartition() {
        var group = settledGroup(["c1", "c2", "c3"], ["orders": 6])
        #expect(ownership(group).values.map(\.count) == [2, 2, 2])
        let before = ownership(group)
        let actions = join(&group, "c4", ["orders": 6])
        // Only the moved partition is paused; nobody else hears anything yet.
        #expect(actions.count == 1)
        #expect(revokedPartitions(actions).count == 1)
        #expect(assignedPartitions(actions) == [])
        let moved = revokedPartitions(actions)[0]
        let completion = completeAllRevocations(&group)
        #expect(completion == [.assign("c4", [moved], group.generation)])
        for (member, owned) in before {
            #expect(ownership(group)[member] == owned.filter { $0 != moved })
        }
        #expect(ownership(group).values.map(\.count).sorted() == [1, 1, 2, 2])
        expectSettledAndBalanced(group)
    }

    @Test func leaveMovesOnlyTheLeaversPartitions() {
        var group = settledGroup(["c1", "c2", "c3"], ["orders": 6])
        let before = ownership(group)
        let actions = group.leave("c2", now: 1)
        #expect(revokedPartitions(actions) == [])
        #expect(assignedPartitions(actions) == before["c2"]!)
        for member: MemberID in ["c1", "c3"] {
            #expect(Set(before[member]!).isSubset(of: ownership(group)[member]!))
            #expect(ownership(group)[member]!.count == 3)
        }
        expectSettledAndBalanced(group)
    }

    /// A balanced group of `members` members and `partitions` partitions takes in one more member:
    /// the newcomer's fair share, `partitions / (members + 1)`, is the least any balanced result
    /// can move, and exactly what moves.
    @Test(arguments: 1...5, 0...17)
    func joinMovesTheMinimum(members: Int, partitions: Int) {
        let ids = (1...members).map { MemberID("m\($0)") }
        var group = settledGroup(ids, ["orders": partitions])
        expectSettledAndBalanced(group)
        let before = ownership(group)
        let actions = join(&group, "new", ["orders": partitions])
        #expect(revokedPartitions(actions).count == partitions / (members + 1))
        #expect(assignedPartitions(actions) == [])
        completeAllRevocations(&group)
        expectSettledAndBalanced(group)
        let after = ownership(group)
        for id in ids {
            #expect(Set(after[id]!).isSubset(of: Set(before[id]!)))
        }
        #expect(after["new"]!.count == partitions / (members + 1))
    }

    @Test(arguments: 2...6, 0...13)
    func leaveMovesOnlyTheLeaversShare(members: Int, partitions: Int) {
        let ids = (1...members).map { MemberID("m\($0)") }
        var group = settledGroup(ids, ["orders": partitions])
        let before = ownership(group)
        let leaver = ids[partitions % members]
        let actions = group.leave(leaver, now: 1)
        #expect(revokedPartitions(actions) == [])
        #expect(assignedPartitions(actions) == before[leaver]!)
        expectSettledAndBalanced(group)
    }

    @Test func membersWithDifferentTopicsOnlyGetTheirTopicsAndAreBalancedGreedily() {
        var group = makeGroup()
        join(&group, "c1", ["a": 4])
        join(&group, "c2", ["a": 4, "b": 4])
        join(&group, "c3", ["b": 4])
        completeAllRevocations(&group)
        let owned = ownership(group)
        #expect(owned["c1"]!.allSatisfy { $0.topic == topic("a") })
        #expect(owned["c3"]!.allSatisfy { $0.topic == topic("b") })
        #expect(owned["c1"]!.count == 3)
        #expect(owned["c2"]!.count == 3)
        #expect(owned["c3"]!.count == 2)
        expectSettledAndBalanced(group)
    }

    @Test func aTopicWithOneSubscriberStaysWithItEvenIfThatIsUneven() {
        var group = makeGroup()
        join(&group, "c1", ["big": 6])
        join(&group, "c2", ["small": 1])
        completeAllRevocations(&group)
        #expect(group.partitions(ownedBy: "c1") == tps("big", 0...5))
        #expect(group.partitions(ownedBy: "c2") == [tp("small", 0)])
        expectSettledAndBalanced(group)
    }

    @Test func aMemberSubscribedToNothingOwnsNothing() {
        var group = settledGroup(["c1"], ["orders": 3])
        #expect(join(&group, "idle", [:]) == [])
        #expect(group.partitions(ownedBy: "idle") == [])
        #expect(group.generation == Generation(2))
        expectSettledAndBalanced(group)
    }

    @Test func theSameInputsGiveTheSameActions() {
        func run() -> [[GroupAction]] {
            var group = makeGroup()
            var trace: [[GroupAction]] = []
            let topics = ["t0": 5, "t1": 3, "t2": 7, "t3": 2, "t4": 4, "t5": 1]
            for index in 0..<6 {
                trace.append(join(&group, MemberID("c\(index)"), topics))
            }
            trace.append(completeAllRevocations(&group))
            trace.append(group.leave("c2", now: 1))
            return trace
        }
        // Dictionaries hash with a per-process seed but also per instance layout; repeating
        // catches any iteration order leaking into the result.
        let first = run()
        for _ in 0..<20 { #expect(run() == first) }
    }

    @Test func rejoiningWithoutATopicHandsItOverInTheSameList() {
        var group = settledGroup(["c1", "c2"], ["a": 2, "b": 2])
        // c1 joined first with everything; c2 took the two highest partitions, b/0 and b/1.
        #expect(ownership(group)["c2"] == tps("b", 0...1))
        let actions = join(&group, "c2", ["a": 2])
        // c2's b partitions go to c1 at once (c2 asked), the notice to stop coming first; then
        // c1 holds all four, so both a partitions start moving to c2 the cooperative way.
        #expect(actions == [
            .revoke("c1", tps("a", 0...1), Generation(3)),
            .revoke("c2", tps("b", 0...1), Generation(3)),
            .assign("c1", tps("b", 0...1), Generation(3)),
        ])
        #expect(group.owner(of: tp("b", 0)) == "c1")
        #expect(group.owner(of: tp("a", 0)) == "c1")
        expectSound(group)
        completeAllRevocations(&group)
        #expect(group.partitions(ownedBy: "c2") == tps("a", 0...1))
        expectSettledAndBalanced(group)
    }
}
