/// Collects the effects of one coordinator call and renders them as a sorted action list.
///
/// Grouping by kind and member (instead of recording actions as they happen) is what makes the
/// output independent of the order the coordinator happened to visit partitions in.
struct ActionBatch {
    private var removed: [MemberID: RemovalReason] = [:]
    private var revoked: [MemberID: [TopicPartition]] = [:]
    private var assigned: [MemberID: [TopicPartition]] = [:]

    mutating func remove(_ member: MemberID, _ reason: RemovalReason) { removed[member] = reason }
    mutating func revoke(_ member: MemberID, _ partition: TopicPartition) { revoked[member, default: []].append(partition) }
    mutating func assign(_ member: MemberID, _ partition: TopicPartition) { assigned[member, default: []].append(partition) }

    /// Removals, then revocations, then assignments; by member, partitions sorted.
    func actions(generation: Generation) -> [GroupAction] {
        var actions: [GroupAction] = []
        for member in removed.keys.sorted() {
            actions.append(.removed(member, removed[member]!))
        }
        for member in revoked.keys.sorted() {
            actions.append(.revoke(member, revoked[member]!.sorted(), generation))
        }
        for member in assigned.keys.sorted() {
            actions.append(.assign(member, assigned[member]!.sorted(), generation))
        }
        return actions
    }
}
