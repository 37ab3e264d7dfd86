import SpoolCore

/// Computes which member should own each partition: balanced, and sticky to the current placement.
///
/// ## Algorithm
///
/// 1. **Keep.** Every partition whose current owner (for a moving partition, its destination) is
///    still a member subscribed to its topic stays where it is.
/// 2. **Place the free ones.** Partitions with no valid owner (new partitions, or the partitions
///    of a member that left) are placed, most constrained first (fewest eligible members, then
///    partition order), each on the eligible member that owns the fewest partitions (ties: the
///    smallest member id).
/// 3. **Even out.** Repeatedly take the member owning the most partitions (ties: smallest id) and
///    look, from its highest partition down, for one partition whose lightest eligible member owns
///    at least two fewer; move that one partition. Stop when no such move exists.
///
/// Each step-3 move lowers the sum of squared owned counts by at least 2, so the loop ends. At the
/// end no single partition can go to an eligible member owning two fewer partitions. With
/// identical subscriptions that means owned counts differ by at most one, and every move takes a
/// partition from a member above its share to one below it, so the number of moved partitions is
/// the minimum any balanced assignment needs (a join to a balanced group of 3 members owning 2 of
/// 6 partitions each moves exactly 1; a leave moves only the leaver's partitions). With different
/// subscriptions the result is greedy local balance, as Kafka's sticky assignor also settles for:
/// an imbalance that could only be fixed by a chain of moves through a third member is left alone.
///
/// Every choice is made over sorted arrays with explicit tie-breaks; dictionary order never
/// decides anything, so equal inputs give equal outputs on every run and platform.
///
/// ## Complexity
///
/// P partitions, M members, F free partitions, K step-3 moves: O(P log P) to keep and sort,
/// O(F · M) to place, O(K · (M log M + P log P + P · M)) to even out. With identical subscriptions
/// the first candidate of the heaviest member always moves, so a step-3 round costs
/// O(M log M + P log P) and K is the minimal number of moves (at most P). K is bounded by P²/2 in
/// general (the squared-count argument above). Groups have at most hundreds of members and
/// thousands of partitions, and this runs only when the group changes.
enum StickyAssignor {
    /// - Parameters:
    ///   - subscriptions: each member's subscribed topics.
    ///   - partitionCounts: partitions per topic; topics nobody subscribes to are ignored.
    ///   - current: the placement to stick to; entries whose member is gone or no longer subscribed
    ///     to the topic, and partitions that no longer exist, are ignored.
    /// - Returns: an owner for every partition of every topic that has at least one subscriber.
    static func assign(
        subscriptions: [MemberID: [TopicName]],
        partitionCounts: [TopicName: Int],
        current: [TopicPartition: MemberID]
    ) -> [TopicPartition: MemberID] {
        let members = subscriptions.keys.sorted()
        var eligible: [TopicName: [MemberID]] = [:]
        for member in members {
            for topic in subscriptions[member]! { eligible[topic, default: []].append(member) }
        }
        var owned: [MemberID: [TopicPartition]] = [:]
        for member in members { owned[member] = [] }
        var free: [TopicPartition] = []

        // 1. Keep.
        for topic in eligible.keys.sorted() {
            for number in 0..<max(0, partitionCounts[topic] ?? 0) {
                let partition = TopicPartition(topic: topic, partition: PartitionID(number))
                if let owner = current[partition], subscriptions[owner]?.contains(topic) == true {
                    owned[owner]!.append(partition)
                } else {
                    free.append(partition)
                }
            }
        }

        // 2. Place the free ones, most constrained first so flexible partitions fill the gaps.
        free.sort { (eligible[$0.topic]!.count, $0) < (eligible[$1.topic]!.count, $1) }
        for partition in free {
            let target = lightest(eligible[partition.topic]!, owned)
            owned[target]!.append(partition)
        }

        // 3. Even out.
        while let (partition, from, to) = nextMove(members, eligible, owned) {
            owned[from]!.removeAll { $0 == partition }
            owned[to]!.append(partition)
        }

        var result: [TopicPartition: MemberID] = [:]
        for member in members {
            for partition in owned[member]! { result[partition] = member }
        }
        return result
    }

    /// The candidate owning the fewest partitions; ties go to the smallest id (`candidates` is sorted).
    private static func lightest(_ candidates: [MemberID], _ owned: [MemberID: [TopicPartition]]) -> MemberID {
        var best = candidates[0]
        for candidate in candidates.dropFirst() where owned[candidate]!.count < owned[best]!.count {
            best = candidate
        }
        return best
    }

    /// One partition move that narrows a gap of two or more, or nil when the assignment is balanced.
    private static func nextMove(
        _ members: [MemberID],
        _ eligible: [TopicName: [MemberID]],
        _ owned: [MemberID: [TopicPartition]]
    ) -> (TopicPartition, MemberID, MemberID)? {
        guard let lowest = members.map({ owned[$0]!.count }).min() else { return nil }
        let heaviestFirst = members.sorted {
            let (left, right) = (owned[$0]!.count, owned[$1]!.count)
            return left != right ? left > right : $0 < $1
        }
        for heavy in heaviestFirst {
            let heavyCount = owned[heavy]!.count
            // Nobody (eligible or not) is two lighter: neither this member nor any lighter one can give.
            if heavyCount - lowest < 2 { return nil }
            for partition in owned[heavy]!.sorted(by: >) {
                let light = lightest(eligible[partition.topic]!, owned)
                if heavyCount - owned[light]!.count >= 2 { return (partition, heavy, light) }
            }
        }
        return nil
    }
}
