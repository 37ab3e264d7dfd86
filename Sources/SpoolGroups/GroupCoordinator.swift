import SpoolCore

/// The coordination state machine of one consumer group: membership, liveness, and which member
/// owns which partition. Pure and synchronous: no sockets, no clock, no randomness. Every input
/// carries `now` (milliseconds of the driver's clock) and every change returns the `GroupAction`s
/// the driver must perform, in order.
///
/// Inside a group each partition has exactly one owner, the only member it is delivered to and
/// the only one that may commit its offsets. Every change of membership, subscription or partition
/// count bumps the generation and rebalances with `StickyAssignor`. Rebalancing is incremental and
/// cooperative (Kafka's KIP-429): partitions that stay put are never paused; a partition that moves
/// is first revoked from its old owner, which keeps it until the driver confirms the revocation
/// (`revocationCompleted`) or `GroupConfig.revocationTimeoutMs` passes, and only then assigned to
/// its new owner. Free partitions (new ones, or those of a member that left or expired) are
/// assigned at once.
///
/// After every change the coordinator checks `GroupInvariants.violations` with `precondition`.
public struct GroupCoordinator: Sendable {
    /// The group this coordinator runs.
    public let name: GroupName
    public let config: GroupConfig
    /// Bumped once per change that rebalances the group.
    public internal(set) var generation: Generation = .initial

    var members: [MemberID: MemberState] = [:]
    /// Partition count of every topic some member subscribes to.
    var partitionCounts: [TopicName: Int] = [:]
    /// The current owner of each partition; a moving partition's old owner until the move completes.
    var owners: [TopicPartition: MemberID] = [:]
    /// Partitions revoked from their owner and waiting for `revocationCompleted` or the timeout.
    var pendingMoves: [TopicPartition: PendingMove] = [:]
    /// True after `adopt` without a rebalance: partitions nobody reported stay free until the
    /// next rebalance (`settle`), so completeness is not checked meanwhile.
    var awaitingSettle = false

    public init(name: GroupName, config: GroupConfig = .init()) {
        config.validate()
        self.name = name
        self.config = config
    }

    /// True when the group has no members (the driver may drop the coordinator).
    public var isEmpty: Bool { members.isEmpty }

    /// Current members, sorted.
    public var memberIDs: [MemberID] { members.keys.sorted() }

    /// Whether `member` is in the group.
    public func contains(_ member: MemberID) -> Bool { members[member] != nil }

    /// Adds `member`, or updates its subscription when it is already in the group; counts as
    /// liveness either way.
    ///
    /// - Parameters:
    ///   - topics: every subscribed topic with its current partition count (0 when it does not
    ///     exist). A count that differs from what the group knew updates it, as
    ///     `partitionCountChanged` would.
    ///   - sessionTimeoutMs: the member is removed when it shows no liveness for longer than this;
    ///     clamped into the config's bounds.
    /// - Returns: the actions of the rebalance, or none when nothing changed (a repeated join with
    ///   the same subscription is a heartbeat). Topics dropped from a subscription are released at
    ///   once: `.revoke` tells the driver to stop them, and they may be assigned to others in the
    ///   same list (the member asked for it, so there is nothing to wait for).
    public mutating func join(_ member: MemberID, topics: [TopicName: Int], sessionTimeoutMs: Int64, now: Int64) -> [GroupAction] {
        let subscribed = topics.keys.sorted()
        let timeoutMs = config.clampedSessionTimeoutMs(sessionTimeoutMs)
        var changed = false
        if var state = members[member] {
            state.lastSeenMs = now
            state.sessionTimeoutMs = timeoutMs
            if state.topics != subscribed {
                state.topics = subscribed
                changed = true
            }
            members[member] = state
        } else {
            members[member] = MemberState(topics: subscribed, sessionTimeoutMs: timeoutMs, lastSeenMs: now)
            changed = true
        }
        for topic in subscribed {
            let count = max(0, topics[topic]!)
            if partitionCounts[topic] != count {
                partitionCounts[topic] = count
                changed = true
            }
        }
        guard changed else { return [] }
        return rebalance(now: now)
    }

    /// Removes `member` (it left, or its connection closed). Its partitions are free at once and
    /// reassigned in the returned actions: it is gone, so there is no revocation to wait for.
    /// Unknown members are ignored.
    public mutating func leave(_ member: MemberID, now: Int64) -> [GroupAction] {
        guard members.removeValue(forKey: member) != nil else { return [] }
        return rebalance(now: now)
    }

    /// Records liveness of `member`. Unknown members are ignored (the driver should re-join them).
    public mutating func heartbeat(_ member: MemberID, now: Int64) {
        members[member]?.lastSeenMs = now
    }

    /// Advances time: removes members whose last liveness + session timeout is before `now`
    /// (`.removed`, then one rebalance), and forces revocations issued more than
    /// `revocationTimeoutMs` before `now`, assigning those partitions to their new owners.
    public mutating func tick(now: Int64) -> [GroupAction] {
        var batch = ActionBatch()
        let expired = members.filter { $0.value.isExpired(now: now) }.keys.sorted()
        for member in expired {
            members[member] = nil
            batch.remove(member, .sessionExpired)
        }
        if !expired.isEmpty { rebalance(now: now, into: &batch) }
        let overdue = pendingMoves.values.filter { $0.sinceMs + config.revocationTimeoutMs < now }
        for move in overdue.sorted(by: { $0.partition < $1.partition }) {
            completeMove(of: move.partition, into: &batch)
        }
        if !overdue.isEmpty { checkInvariants() }
        return batch.actions(generation: generation)
    }

    /// The driver has stopped delivering `partitions` to `member` after a `.revoke`: each one that
    /// is still moving away from `member` now goes to its new owner (`.assign`). Partitions that
    /// are not moving away from `member` (already forced, released, or never revoked) are ignored.
    public mutating func revocationCompleted(_ member: MemberID, _ partitions: [TopicPartition], now: Int64) -> [GroupAction] {
        var batch = ActionBatch()
        var completed = false
        for partition in Set(partitions).sorted() where pendingMoves[partition]?.from == member {
            completeMove(of: partition, into: &batch)
            completed = true
        }
        if completed { checkInvariants() }
        return batch.actions(generation: generation)
    }

    /// A subscribed topic now has `count` partitions (0: it was deleted). Partitions that no longer
    /// exist are released at once (`.revoke` tells their owners to stop); new ones are assigned.
    /// Topics nobody in the group subscribes to are ignored.
    public mutating func partitionCountChanged(topic: TopicName, count: Int, now: Int64) -> [GroupAction] {
        let count = max(0, count)
        guard let known = partitionCounts[topic], known != count else { return [] }
        partitionCounts[topic] = count
        return rebalance(now: now)
    }

    /// The earliest time at which `tick` would do something (a session expiry or a forced
    /// revocation), so the driver can sleep until then; nil when nothing is scheduled.
    public func nextDeadlineMs() -> Int64? {
        let expiries = members.values.map { $0.lastSeenMs + $0.sessionTimeoutMs + 1 }
        let revocations = pendingMoves.values.map { $0.sinceMs + config.revocationTimeoutMs + 1 }
        return (expiries + revocations).min()
    }

    /// Finishes a pending move: the old owner lets go and the new owner gets the partition.
    mutating func completeMove(of partition: TopicPartition, into batch: inout ActionBatch) {
        let move = pendingMoves.removeValue(forKey: partition)!
        // Rebalances keep `to` a live subscriber; a stale one would break single ownership.
        precondition(members[move.to]?.subscribes(to: partition.topic) == true, "pending move \(move) ends at a non-subscriber")
        owners[partition] = move.to
        batch.assign(move.to, partition)
    }
}
