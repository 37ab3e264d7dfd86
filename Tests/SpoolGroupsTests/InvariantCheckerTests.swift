import SpoolCore
import SpoolGroups
import Testing

@Suite("The invariant checker catches broken groups")
struct InvariantCheckerTests {
    func soundSnapshot() -> GroupSnapshot {
        settledGroup(["c1", "c2"], ["orders": 4]).snapshot()
    }

    @Test func aSoundGroupHasNoViolations() {
        #expect(GroupInvariants.violations(in: soundSnapshot()) == [])
        #expect(GroupInvariants.balanceProblems(in: soundSnapshot()) == [])
    }

    @Test func plantedDoubleOwnershipIsDetected() {
        var snapshot = soundSnapshot()
        let stolen = snapshot.members[0].owned[0]
        snapshot.members[1].owned.append(stolen)
        #expect(GroupInvariants.violations(in: snapshot) == ["\(stolen) is owned by both c1 and c2"])
    }

    @Test func ownershipOutsideTheSubscriptionIsDetected() {
        var snapshot = soundSnapshot()
        snapshot.members[0].topics = []
        #expect(GroupInvariants.violations(in: snapshot).contains("c1 owns orders/0 but does not subscribe to orders"))
    }

    @Test func ownershipOfAMissingPartitionIsDetected() {
        var snapshot = soundSnapshot()
        snapshot.members[0].owned.append(tp("orders", 9))
        #expect(GroupInvariants.violations(in: snapshot) == ["c1 owns orders/9, which does not exist"])
    }

    @Test func anOrphanedPartitionIsDetected() {
        var snapshot = soundSnapshot()
        let orphan = snapshot.members[1].owned.removeLast()
        #expect(GroupInvariants.violations(in: snapshot) == ["\(orphan) has no owner"])
    }

    @Test func aMoveFromANonOwnerIsDetected() {
        var snapshot = soundSnapshot()
        snapshot.pendingMoves = [PendingMove(partition: tp("orders", 0), from: "c2", to: "c2", sinceMs: 0)]
        #expect(GroupInvariants.violations(in: snapshot) == ["orders/0 moves from c2 but is owned by c1"])
    }

    @Test func anUnevenSettledGroupIsABalanceProblem() {
        var snapshot = soundSnapshot()
        let moved = snapshot.members[1].owned
        snapshot.members[1].owned = []
        snapshot.members[0].owned += moved
        #expect(GroupInvariants.violations(in: snapshot) == [])
        #expect(GroupInvariants.balanceProblems(in: snapshot).count == 4)
    }
}
