import SpoolCore

extension GroupCoordinator {
    /// Bumps the generation, then rebalances; returns the sorted actions.
    mutating func rebalance(now: Int64) -> [GroupAction] {
        var batch = ActionBatch()
        rebalance(now: now, into: &batch)
        return batch.actions(generation: generation)
    }

    /// Bumps the generation and moves ownership toward a fresh sticky assignment:
    /// 1. forget topics nobody subscribes to;
    /// 2. release partitions whose owner is gone, unsubscribed, or that no longer exist (their
    ///    owner, if still a member, gets `.revoke` as a notice; nothing waits for it);
    /// 3. compute the target, sticking to each partition's destination (new owner if moving);
    /// 4. free partitions are assigned now; moving ones get their destination updated; owned ones
    ///    whose target differs are revoked and wait for `revocationCompleted`.
    mutating func rebalance(now: Int64, into batch: inout ActionBatch) {
        generation = generation.next
        awaitingSettle = false

        let subscribed = Set(members.values.flatMap(\.topics))
        for topic in partitionCounts.keys.sorted() where !subscribed.contains(topic) {
            partitionCounts[topic] = nil
        }

        // Visiting order does not matter below: each partition is decided on its own, and
        // `ActionBatch` sorts what it collected. That saves sorting every partition per rebalance.
        for (partition, owner) in owners where !isValid(owner, for: partition) {
            owners[partition] = nil
            pendingMoves[partition] = nil
            // Told even when already being revoked from it: the list alone says what to stop, and
            // the release makes the partition assignable in this same list.
            if members[owner] != nil { batch.revoke(owner, partition) }
        }

        var anchor = owners
        for (partition, move) in pendingMoves { anchor[partition] = move.to }
        let target = StickyAssignor.assign(
            subscriptions: members.mapValues(\.topics),
            partitionCounts: partitionCounts,
            current: anchor
        )

        for (partition, newOwner) in target {
            if pendingMoves[partition] != nil {
                // The revocation already went out; it completes as usual, toward the new target.
                // (If that is the old owner again it gets the partition back with `.assign`.)
                pendingMoves[partition]!.to = newOwner
            } else if let owner = owners[partition] {
                guard owner != newOwner else { continue }
                pendingMoves[partition] = PendingMove(partition: partition, from: owner, to: newOwner, sinceMs: now)
                batch.revoke(owner, partition)
            } else {
                owners[partition] = newOwner
                batch.assign(newOwner, partition)
            }
        }
        checkInvariants()
    }

    /// Whether `member` may keep owning `partition`: it is a member, subscribes to the topic, and
    /// the partition still exists.
    func isValid(_ member: MemberID, for partition: TopicPartition) -> Bool {
        guard let state = members[member], state.subscribes(to: partition.topic) else { return false }
        return Int(partition.partition.rawValue) < partitionCounts[partition.topic] ?? 0
    }

    /// Traps with every broken invariant listed: a broken group must not deliver anything.
    func checkInvariants() {
        let problems = GroupInvariants.violations(in: snapshot(), complete: !awaitingSettle)
        precondition(problems.isEmpty, "group \(name) broke its invariants: \(problems.joined(separator: "; "))")
    }
}
