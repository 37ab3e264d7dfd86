import SpoolCore

/// Taking a group over from another coordinator (a cluster's coordinator moved to this broker,
/// docs/cluster.md "Consumer groups in a cluster"). The new coordinator starts from nothing: it
/// learns the group from the members' brokers, each reporting what its members hold, and keeps
/// those holdings (sticky), so a coordinator change moves no partition that has a live owner.
extension GroupCoordinator {
    /// Adds `member`, which already holds `held` (handed to it by an earlier coordinator), in
    /// generation `generation` or later.
    ///
    /// Each held partition that still exists, that the member subscribes to, and that nobody
    /// else holds stays the member's (`.assign` confirms it). One already held by another member
    /// (two coordinators disagreed, say across a network partition) stays with the first one
    /// reported; the member is told to stop it (`.revoke`, a notice: nothing waits for it).
    ///
    /// - Parameter rebalance: false while the coordinator is still hearing from the members'
    ///   brokers after a takeover: ownership is recorded, free partitions wait for `settle(now:)`
    ///   rather than going to whoever reported first. True afterwards: a member reported late
    ///   (its broker was slow or cut off) joins and the group rebalances as for any join.
    /// - Returns: the actions, sorted as always. A member already in the group is a `join`.
    public mutating func adopt(
        _ member: MemberID, topics: [TopicName: Int], sessionTimeoutMs: Int64, held: [TopicPartition], generation reported: Generation,
        now: Int64, rebalance: Bool
    ) -> [GroupAction] {
        guard members[member] == nil else { return join(member, topics: topics, sessionTimeoutMs: sessionTimeoutMs, now: now) }
        if reported > generation { generation = reported }
        let subscribed = topics.keys.sorted()
        members[member] = MemberState(topics: subscribed, sessionTimeoutMs: config.clampedSessionTimeoutMs(sessionTimeoutMs), lastSeenMs: now)
        for topic in subscribed { partitionCounts[topic] = max(0, topics[topic]!) }
        var batch = ActionBatch()
        for partition in Set(held).sorted() {
            if owners[partition] == nil && isValid(member, for: partition) {
                owners[partition] = member
                batch.assign(member, partition)
            } else if owners[partition] != member {
                batch.revoke(member, partition)
            }
        }
        if rebalance {
            self.rebalance(now: now, into: &batch)
        } else {
            awaitingSettle = true
            checkInvariants()
        }
        return batch.actions(generation: generation)
    }

    /// Whether `adopt` left the group waiting for `settle` (no rebalance since).
    public var awaitsSettle: Bool { awaitingSettle }

    /// Whether some partition of a subscribed topic has no owner (only while `awaitsSettle`).
    public var hasFreePartitions: Bool {
        let subscribed = Set(members.values.flatMap(\.topics))
        return subscribed.contains { topic in
            (0..<(partitionCounts[topic] ?? 0)).contains { owners[TopicPartition(topic: topic, partition: PartitionID(Int32($0)))] == nil }
        }
    }

    /// Ends a takeover's quiet period: one rebalance, which assigns the partitions nobody
    /// reported (their owners' brokers are gone) and evens out the rest, moving as few as it can.
    public mutating func settle(now: Int64) -> [GroupAction] {
        guard !members.isEmpty else { return [] }
        return rebalance(now: now)
    }
}
