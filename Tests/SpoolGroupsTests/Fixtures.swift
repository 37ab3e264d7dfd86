import SpoolCore
import SpoolGroups
import Testing

// Small builders so tests read like the scenarios they describe.

func topic(_ name: String) -> TopicName { TopicName(name)! }

func tp(_ name: String, _ partition: Int) -> TopicPartition {
    TopicPartition(topic: topic(name), partition: PartitionID(partition))
}

func tps(_ name: String, _ partitions: ClosedRange<Int>) -> [TopicPartition] {
    partitions.map { tp(name, $0) }
}

let billing = GroupName("billing")!

/// Session timeout long enough that no test expires a member unless it means to.
let longSessionMs: Int64 = 1_000_000

func makeGroup(revocationTimeoutMs: Int64 = 10_000) -> GroupCoordinator {
    GroupCoordinator(name: billing, config: GroupConfig(revocationTimeoutMs: revocationTimeoutMs))
}

/// Joins `member` with `topics` (name → partition count) and a long session.
@discardableResult
func join(_ group: inout GroupCoordinator, _ member: MemberID, _ topics: [String: Int], now: Int64 = 0) -> [GroupAction] {
    var subscription: [TopicName: Int] = [:]
    for (name, count) in topics { subscription[topic(name)] = count }
    return group.join(member, topics: subscription, sessionTimeoutMs: longSessionMs, now: now)
}

/// Completes every pending revocation, as a driver does once deliveries stop.
@discardableResult
func completeAllRevocations(_ group: inout GroupCoordinator, now: Int64 = 0) -> [GroupAction] {
    var byMember: [MemberID: [TopicPartition]] = [:]
    for move in group.snapshot().pendingMoves { byMember[move.from, default: []].append(move.partition) }
    return byMember.keys.sorted().flatMap { group.revocationCompleted($0, byMember[$0]!, now: now) }
}

/// A group whose members joined in order, all subscribed to `topics`, with every move completed.
func settledGroup(_ members: [MemberID], _ topics: [String: Int]) -> GroupCoordinator {
    var group = makeGroup()
    for member in members {
        join(&group, member, topics)
        completeAllRevocations(&group)
    }
    return group
}

/// Every partition in the `.revoke` actions, sorted.
func revokedPartitions(_ actions: [GroupAction]) -> [TopicPartition] {
    actions.flatMap { action -> [TopicPartition] in
        if case .revoke(_, let partitions, _) = action { return partitions }
        return []
    }.sorted()
}

/// Every partition in the `.assign` actions, sorted.
func assignedPartitions(_ actions: [GroupAction]) -> [TopicPartition] {
    actions.flatMap { action -> [TopicPartition] in
        if case .assign(_, let partitions, _) = action { return partitions }
        return []
    }.sorted()
}

/// Owned partitions per member, from the snapshot.
func ownership(_ group: GroupCoordinator) -> [MemberID: [TopicPartition]] {
    var result: [MemberID: [TopicPartition]] = [:]
    for member in group.snapshot().members { result[member.id] = member.owned }
    return result
}

func expectSound(_ group: GroupCoordinator, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(GroupInvariants.violations(in: group.snapshot()) == [], sourceLocation: sourceLocation)
}

func expectSettledAndBalanced(_ group: GroupCoordinator, sourceLocation: SourceLocation = #_sourceLocation) {
    expectSound(group, sourceLocation: sourceLocation)
    #expect(GroupInvariants.balanceProblems(in: group.snapshot()) == [], sourceLocation: sourceLocation)
}
