import SpoolCore
import SpoolGroups

/// What a driver that follows the action contract believes: who it delivers each partition to,
/// and which revocations it still has to confirm. Applying actions to it checks that the
/// coordinator never asks for two deliveries of one partition, and never assigns a revoked
/// partition before the revocation was confirmed, forced by the timeout, or released.
struct DriverModel {
    struct Revocation {
        var member: MemberID
        var sinceMs: Int64
        /// The coordinator let go at once (the member unsubscribed or the partition is gone), so
        /// the partition may be assigned again without waiting.
        var released: Bool
    }

    var delivering: [TopicPartition: MemberID] = [:]
    var awaiting: [TopicPartition: Revocation] = [:]
    var problems: [String] = []

    /// The driver stops everything of a member that left or was removed.
    mutating func forget(_ member: MemberID) {
        delivering = delivering.filter { $0.value != member }
        awaiting = awaiting.filter { $0.value.member != member }
    }

    /// The driver confirms these revocations.
    mutating func confirm(_ member: MemberID, _ partitions: [TopicPartition]) {
        for partition in partitions where awaiting[partition]?.member == member { awaiting[partition] = nil }
    }

    /// Performs `actions` in order. `step` numbers the call; `forcedBeforeMs` is set for a tick:
    /// revocations issued before it may be completed by force. `isRelease` says which revocations
    /// this call makes without waiting (what the test asked for: an unsubscribe, a lost partition).
    mutating func perform(
        _ actions: [GroupAction],
        step: Int,
        now: Int64,
        generation: Generation,
        forcedBeforeMs: Int64?,
        isRelease: (MemberID, TopicPartition) -> Bool
    ) {
        for action in actions {
            switch action {
            case .removed(let member, _):
                forget(member)
            case .revoke(let member, let partitions, let actionGeneration):
                if actionGeneration != generation { problems.append("step \(step): \(action) has a stale generation") }
                for partition in partitions {
                    // A partition being revoked is revoked again when it is released outright.
                    let repeated = delivering[partition] == nil && awaiting[partition]?.member == member
                    if delivering[partition] != member, !repeated { problems.append("step \(step): \(action) but \(partition) is delivered to \(delivering[partition]?.description ?? "nobody")") }
                    delivering[partition] = nil
                    let since = repeated ? awaiting[partition]!.sinceMs : now
                    awaiting[partition] = Revocation(member: member, sinceMs: since, released: isRelease(member, partition))
                }
            case .assign(let member, let partitions, let actionGeneration):
                if actionGeneration != generation { problems.append("step \(step): \(action) has a stale generation") }
                for partition in partitions {
                    if let other = delivering[partition] { problems.append("step \(step): \(action) while \(other) still receives \(partition)") }
                    if let pending = awaiting[partition], !pending.released,
                        !(forcedBeforeMs.map { pending.sinceMs < $0 } ?? false)
                    {
                        problems.append("step \(step): \(action) before \(pending.member) confirmed revoking \(partition)")
                    }
                    awaiting[partition] = nil
                    delivering[partition] = member
                }
            }
        }
    }

    /// Drops revocation notices the coordinator did not wait for (released partitions), then
    /// checks that the driver's view and the coordinator's owners agree.
    mutating func reconcile(with snapshot: GroupSnapshot, step: Int) {
        var moving: [TopicPartition: MemberID] = [:]
        for move in snapshot.pendingMoves { moving[move.partition] = move.from }
        awaiting = awaiting.filter { moving[$0.key] == $0.value.member }
        for (partition, from) in moving where awaiting[partition]?.member != from {
            problems.append("step \(step): \(partition) moves from \(from) but the driver was never told")
        }
        var ownedCount = 0
        for member in snapshot.members {
            for partition in member.owned {
                ownedCount += 1
                if (delivering[partition] ?? awaiting[partition]?.member) != member.id {
                    problems.append("step \(step): \(member.id) owns \(partition) but the driver delivers it to \(delivering[partition]?.description ?? "nobody")")
                }
            }
        }
        // Every owned partition matched above, so equal totals mean the driver delivers nothing else.
        if delivering.count + awaiting.count != ownedCount {
            problems.append("step \(step): the driver delivers \(delivering.count) and revokes \(awaiting.count) partitions, but \(ownedCount) are owned")
        }
    }
}
