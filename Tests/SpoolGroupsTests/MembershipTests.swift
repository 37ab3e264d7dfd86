import SpoolCore
import SpoolGroups
import Testing

@Suite("Joining, leaving and session expiry")
struct MembershipTests {
    @Test func firstMemberGetsEveryPartitionAtOnce() {
        var group = makeGroup()
        let actions = join(&group, "c1", ["orders": 3])
        #expect(actions == [.assign("c1", tps("orders", 0...2), Generation(1))])
        #expect(group.generation == Generation(1))
        #expect(group.owner(of: tp("orders", 2)) == "c1")
        #expect(!group.isEmpty)
        expectSettledAndBalanced(group)
    }

    @Test func repeatedJoinWithTheSameSubscriptionIsOnlyLiveness() {
        var group = makeGroup()
        join(&group, "c1", ["orders": 3], now: 0)
        #expect(join(&group, "c1", ["orders": 3], now: 500) == [])
        #expect(group.generation == Generation(1))
        #expect(group.snapshot().members.map(\.lastSeenMs) == [500])
    }

    @Test func leaveFreesPartitionsImmediatelyWithoutRevocation() {
        var group = settledGroup(["c1", "c2"], ["orders": 4])
        let c1Owned = group.partitions(ownedBy: "c1")
        #expect(c1Owned.count == 2)
        let actions = group.leave("c1", now: 10)
        #expect(actions == [.assign("c2", c1Owned, Generation(3))])
        #expect(group.partitions(ownedBy: "c2") == tps("orders", 0...3))
        #expect(group.snapshot().pendingMoves == [])
        #expect(group.checkCommit(member: "c1", tp("orders", 0)) == .unknownMember(message: "c1 is not a member of group billing"))
    }

    @Test func lastMemberLeavingEmptiesTheGroup() {
        var group = settledGroup(["c1"], ["orders": 2])
        #expect(group.leave("c1", now: 1) == [])
        #expect(group.isEmpty)
        #expect(group.owner(of: tp("orders", 0)) == nil)
        #expect(group.snapshot().topics == [])
        expectSound(group)
    }

    @Test func leavingTwiceOrLeavingAsAStrangerChangesNothing() {
        var group = settledGroup(["c1", "c2"], ["orders": 4])
        _ = group.leave("c1", now: 1)
        let generation = group.generation
        #expect(group.leave("c1", now: 2) == [])
        #expect(group.leave("nobody", now: 2) == [])
        #expect(group.generation == generation)
    }

    @Test func silentMemberExpiresOnlyAfterItsSessionTimeout() {
        var group = makeGroup()
        _ = group.join("c1", topics: [topic("orders"): 2], sessionTimeoutMs: 1_000, now: 0)
        _ = group.join("c2", topics: [topic("orders"): 2], sessionTimeoutMs: 60_000, now: 0)
        completeAllRevocations(&group)
        let c1Owned = group.partitions(ownedBy: "c1")
        let generation = group.generation
        // Last liveness + timeout = 1000 is not before now = 1000: still alive.
        #expect(group.tick(now: 1_000) == [])
        #expect(group.generation == generation)
        let actions = group.tick(now: 1_001)
        #expect(actions == [.removed("c1", .sessionExpired), .assign("c2", c1Owned, generation.next)])
        #expect(group.memberIDs == ["c2"])
        expectSettledAndBalanced(group)
    }

    @Test func memberThatKeepsHeartbeatingIsNeverExpired() {
        var group = makeGroup()
        _ = group.join("c1", topics: [topic("orders"): 2], sessionTimeoutMs: 1_000, now: 0)
        let generation = group.generation
        for now in stride(from: Int64(0), through: 100_000, by: 250) {
            group.heartbeat("c1", now: now)
            #expect(group.tick(now: now + 999) == [])
        }
        #expect(group.memberIDs == ["c1"])
        #expect(group.generation == generation)
    }

    @Test func joiningAgainCountsAsLiveness() {
        var group = makeGroup()
        _ = group.join("c1", topics: [topic("orders"): 2], sessionTimeoutMs: 1_000, now: 0)
        _ = group.join("c1", topics: [topic("orders"): 2], sessionTimeoutMs: 1_000, now: 900)
        #expect(group.tick(now: 1_500) == [])
        #expect(group.tick(now: 1_901) == [.removed("c1", .sessionExpired)])
        #expect(group.isEmpty)
    }

    @Test func membersExpiringTogetherAreOneRebalanceInIdOrder() {
        var group = makeGroup()
        for member: MemberID in ["c3", "c1", "c2"] {
            _ = group.join(member, topics: [topic("orders"): 3], sessionTimeoutMs: member == "c2" ? 10_000 : 100, now: 0)
        }
        completeAllRevocations(&group)
        let generation = group.generation
        let actions = group.tick(now: 101)
        #expect(actions.prefix(2) == [.removed("c1", .sessionExpired), .removed("c3", .sessionExpired)])
        #expect(actions.dropFirst(2).map(\.member) == ["c2"])
        #expect(group.generation == generation.next)
        #expect(group.partitions(ownedBy: "c2") == tps("orders", 0...2))
    }

    @Test func heartbeatFromAStrangerIsIgnored() {
        var group = makeGroup()
        group.heartbeat("ghost", now: 5)
        #expect(group.isEmpty)
        #expect(group.generation == .initial)
    }

    @Test func generationBumpsOncePerRebalanceAndNeverOtherwise() {
        var group = makeGroup()
        join(&group, "c1", ["orders": 2])
        #expect(group.generation == Generation(1))
        join(&group, "c2", ["orders": 2])
        #expect(group.generation == Generation(2))
        completeAllRevocations(&group)
        group.heartbeat("c1", now: 1)
        _ = group.tick(now: 2)
        #expect(group.generation == Generation(2))
        join(&group, "c2", ["orders": 2, "audit": 1])
        #expect(group.generation == Generation(3))
        _ = group.partitionCountChanged(topic: topic("orders"), count: 2, now: 3)
        #expect(group.generation == Generation(3))
        _ = group.partitionCountChanged(topic: topic("orders"), count: 5, now: 3)
        #expect(group.generation == Generation(4))
        _ = group.leave("c1", now: 4)
        #expect(group.generation == Generation(5))
    }

    @Test func sessionTimeoutIsClampedToTheConfiguredBounds() {
        var config = GroupConfig()
        config.sessionTimeoutMinMs = 500
        config.sessionTimeoutMaxMs = 5_000
        var group = GroupCoordinator(name: billing, config: config)
        _ = group.join("c1", topics: [:], sessionTimeoutMs: 1, now: 0)
        _ = group.join("c2", topics: [:], sessionTimeoutMs: 99_000, now: 0)
        #expect(group.snapshot().members.map(\.sessionTimeoutMs) == [500, 5_000])
    }

    @Test func nextDeadlineIsTheEarliestExpiryOrForcedRevocation() {
        var group = makeGroup(revocationTimeoutMs: 300)
        #expect(group.nextDeadlineMs() == nil)
        _ = group.join("c1", topics: [topic("orders"): 2], sessionTimeoutMs: 1_000, now: 0)
        #expect(group.nextDeadlineMs() == 1_001)
        _ = group.join("c2", topics: [topic("orders"): 2], sessionTimeoutMs: 1_000, now: 100)
        #expect(group.nextDeadlineMs() == 401)
        #expect(group.tick(now: 400) == [])
        #expect(group.tick(now: 401).count == 1)
    }

    @Test func snapshotListsMembersTopicsAndMovesSorted() {
        var group = makeGroup()
        _ = group.join("c2", topics: [topic("orders"): 2, topic("audit"): 1], sessionTimeoutMs: 3_000, now: 7)
        _ = group.join("c1", topics: [topic("orders"): 2], sessionTimeoutMs: 4_000, now: 8)
        let snapshot = group.snapshot()
        #expect(snapshot.name == billing)
        #expect(snapshot.generation == Generation(2))
        #expect(snapshot.members.map(\.id) == ["c1", "c2"])
        #expect(snapshot.members[1].topics == [topic("audit"), topic("orders")])
        #expect(snapshot.members[0].sessionTimeoutMs == 4_000)
        #expect(snapshot.members[0].lastSeenMs == 8)
        #expect(snapshot.topics.map(\.name) == [topic("audit"), topic("orders")])
        #expect(snapshot.topics.map(\.partitionCount) == [1, 2])
        #expect(snapshot.members[0].owned == [])
        #expect(snapshot.members[1].owned == [tp("audit", 0), tp("orders", 0), tp("orders", 1)])
        #expect(snapshot.pendingMoves == [PendingMove(partition: tp("orders", 1), from: "c2", to: "c1", sinceMs: 8)])
    }
}
