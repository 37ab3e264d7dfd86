import SpoolCore

/// The safety and balance properties of a group, checked on a snapshot.
///
/// The coordinator asserts `violations` with `precondition` after every change; tests run both
/// checks after every step of their randomized runs. Working on a snapshot (not on the
/// coordinator's dictionaries) lets a test hand-build a broken group and see it caught, and lets
/// the driver's tests reuse the same checks.
public enum GroupInvariants {
    /// Broken safety invariants, one human sentence each; empty when the group is sound:
    /// - no partition is owned by two members at once;
    /// - a member only owns existing partitions of topics it subscribes to;
    /// - a pending move starts at the partition's current owner and ends at a member subscribed to
    ///   its topic;
    /// - every partition of a topic with at least one subscriber is owned by someone (a moving
    ///   partition is owned by its old owner until the move completes).
    public static func violations(in snapshot: GroupSnapshot) -> [String] {
        var problems: [String] = []
        var counts: [TopicName: Int] = [:]
        for topic in snapshot.topics { counts[topic.name] = topic.partitionCount }
        var members: [MemberID: MemberSnapshot] = [:]
        var ownerOf: [TopicPartition: MemberID] = [:]
        for member in snapshot.members {
            if members[member.id] != nil { problems.append("member \(member.id) is listed twice") }
            members[member.id] = member
            for partition in member.owned {
                if let other = ownerOf[partition] {
                    problems.append("\(partition) is owned by both \(other) and \(member.id)")
                }
                ownerOf[partition] = member.id
                if !member.topics.contains(partition.topic) {
                    problems.append("\(member.id) owns \(partition) but does not subscribe to \(partition.topic)")
                } else if Int(partition.partition.rawValue) >= counts[partition.topic] ?? 0 || partition.partition.rawValue < 0 {
                    problems.append("\(member.id) owns \(partition), which does not exist")
                }
            }
        }
        var moving: Set<TopicPartition> = []
        for move in snapshot.pendingMoves {
            if !moving.insert(move.partition).inserted { problems.append("\(move.partition) has two pending moves") }
            if ownerOf[move.partition] != move.from {
                problems.append("\(move.partition) moves from \(move.from) but is owned by \(ownerOf[move.partition]?.description ?? "nobody")")
            }
            if members[move.to]?.topics.contains(move.partition.topic) != true {
                problems.append("\(move.partition) moves to \(move.to), which is not a member subscribed to \(move.partition.topic)")
            }
        }
        for topic in snapshot.topics where snapshot.members.contains(where: { $0.topics.contains(topic.name) }) {
            for number in 0..<max(0, topic.partitionCount) {
                let partition = TopicPartition(topic: topic.name, partition: PartitionID(number))
                if ownerOf[partition] == nil { problems.append("\(partition) has no owner") }
            }
        }
        return problems
    }

    /// Balance problems of a settled group (no pending moves), one sentence each; empty when no
    /// single partition could move to an eligible member owning at least two fewer partitions.
    ///
    /// That is what the sticky assignor guarantees. With identical subscriptions it means owned
    /// counts differ by at most one; with different subscriptions it is the greedy local balance
    /// the assignor promises (see `StickyAssignor`).
    public static func balanceProblems(in snapshot: GroupSnapshot) -> [String] {
        var problems: [String] = []
        if !snapshot.pendingMoves.isEmpty { problems.append("\(snapshot.pendingMoves.count) moves are pending") }
        for heavy in snapshot.members {
            for partition in heavy.owned {
                // Report the lightest eligible member only, so one imbalance is one sentence.
                let light = snapshot.members
                    .filter { $0.topics.contains(partition.topic) }
                    .min { ($0.owned.count, $0.id) < ($1.owned.count, $1.id) }
                if let light, heavy.owned.count - light.owned.count >= 2 {
                    problems.append("\(partition) could move from \(heavy.id) (\(heavy.owned.count)) to \(light.id) (\(light.owned.count))")
                }
            }
        }
        return problems
    }
}
