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
    ///   partition is owned by its old owner until the move completes). Not while `complete` is
    ///   false: a coordinator taking a group over leaves unreported partitions free until it
    ///   settles (`GroupCoordinator.adopt`).
    public static func violations(in snapshot: GroupSnapshot, complete: Bool = true) -> [String] {
        var problems: [String] = []
        // Holders per topic, indexed by partition number: this runs after every change, and an
        // array slot is much cheaper than hashing a TopicPartition.
        var holders: [TopicName: [MemberID?]] = [:]
        for topic in snapshot.topics { holders[topic.name] = Array(repeating: nil, count: max(0, topic.partitionCount)) }
        var strays: [TopicPartition: MemberID] = [:]
        var seen: Set<MemberID> = []
        for member in snapshot.members {
            if !seen.insert(member.id).inserted { problems.append("member \(member.id) is listed twice") }
            for partition in member.owned {
                let number = Int(partition.partition.rawValue)
                let previous: MemberID?
                if let count = holders[partition.topic]?.count, (0..<count).contains(number) {
                    previous = holders[partition.topic]![number]
                    holders[partition.topic]![number] = member.id
                } else {
                    previous = strays.updateValue(member.id, forKey: partition)
                }
                if let previous { problems.append("\(partition) is owned by both \(previous) and \(member.id)") }
                if !member.topics.contains(partition.topic) {
                    problems.append("\(member.id) owns \(partition) but does not subscribe to \(partition.topic)")
                } else if strays[partition] != nil {
                    problems.append("\(member.id) owns \(partition), which does not exist")
                }
            }
        }
        func owner(of partition: TopicPartition) -> MemberID? {
            let number = Int(partition.partition.rawValue)
            if let slots = holders[partition.topic], slots.indices.contains(number) { return slots[number] }
            return strays[partition]
        }
        var moving: Set<TopicPartition> = []
        for move in snapshot.pendingMoves {
            if !moving.insert(move.partition).inserted { problems.append("\(move.partition) has two pending moves") }
            if owner(of: move.partition) != move.from {
                problems.append("\(move.partition) moves from \(move.from) but is owned by \(owner(of: move.partition)?.description ?? "nobody")")
            }
            let destination = snapshot.members.first { $0.id == move.to }
            if destination?.topics.contains(move.partition.topic) != true {
                problems.append("\(move.partition) moves to \(move.to), which is not a member subscribed to \(move.partition.topic)")
            }
        }
        let subscribed = Set(snapshot.members.flatMap(\.topics))
        for topic in snapshot.topics where subscribed.contains(topic.name) && complete {
            for (number, holder) in holders[topic.name]!.enumerated() where holder == nil {
                problems.append("\(topic.name)/\(number) has no owner")
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
