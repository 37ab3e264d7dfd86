import SpoolCore

extension GroupCoordinator {
    /// The member currently allowed to receive and commit `partition`, or nil. During a pending
    /// revocation this is still the old owner, until `revocationCompleted` or the timeout.
    public func owner(of partition: TopicPartition) -> MemberID? { owners[partition] }

    /// The partitions `member` owns now (including ones being revoked from it), sorted.
    public func partitions(ownedBy member: MemberID) -> [TopicPartition] {
        owners.filter { $0.value == member }.keys.sorted()
    }

    /// Whether `member` may commit an offset of `tp`: only its current owner may.
    public func checkCommit(member: MemberID, _ tp: TopicPartition) -> CommitCheck {
        guard members[member] != nil else {
            return .unknownMember(message: "\(member) is not a member of group \(name)")
        }
        guard owners[tp] == member else {
            let owner = owners[tp].map { "owned by \($0)" } ?? "not owned by anyone"
            return .notOwner(message: "\(member) does not own \(tp) in group \(name) generation \(generation) (\(owner))")
        }
        return .allowed
    }

    /// The whole group, sorted, for `GROUP <g>` and for invariant checks.
    public func snapshot() -> GroupSnapshot {
        var owned: [MemberID: [TopicPartition]] = [:]
        for (partition, owner) in owners { owned[owner, default: []].append(partition) }
        let memberSnapshots = members.keys.sorted().map { id in
            let state = members[id]!
            return MemberSnapshot(
                id: id,
                topics: state.topics,
                sessionTimeoutMs: state.sessionTimeoutMs,
                lastSeenMs: state.lastSeenMs,
                owned: (owned[id] ?? []).sorted()
            )
        }
        return GroupSnapshot(
            name: name,
            generation: generation,
            members: memberSnapshots,
            topics: partitionCounts.keys.sorted().map { .init(name: $0, partitionCount: partitionCounts[$0]!) },
            pendingMoves: pendingMoves.values.sorted { $0.partition < $1.partition }
        )
    }
}
