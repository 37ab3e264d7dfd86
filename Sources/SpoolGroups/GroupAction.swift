/// Something the driver must do after a call into `GroupCoordinator`.
///
/// Perform a returned list in order: it is sorted so that removals come first, then revocations,
/// then assignments, each by member id, with partitions sorted inside each action. A partition
/// revoked from one member and assigned to another in the same list is therefore always stopped
/// before it is started.
public enum GroupAction: Sendable, Equatable, CustomStringConvertible {
    /// Stop delivering these partitions to this member and tell it (`REVOKED`). When its in-flight
    /// deliveries are settled, call `revocationCompleted(member, partitions, now:)`; until then the
    /// member still owns them (it may commit). Completing a revocation the coordinator already
    /// forced or released is harmless.
    ///
    /// When the member dropped the topic from its subscription, or the partition no longer
    /// exists, the revocation is a notice: the coordinator has already let go (possibly assigning
    /// the partition to another member later in the same list), and a partition that was being
    /// revoked may be named a second time. Treat `.revoke` as idempotent.
    case revoke(MemberID, [TopicPartition], Generation)
    /// Start delivering these partitions to this member and tell it (`ASSIGNED`). Nobody else owns
    /// them now.
    case assign(MemberID, [TopicPartition], Generation)
    /// The coordinator removed this member (its session expired): close its group delivery. Its
    /// partitions are already owned by nobody or by others in the same action list.
    case removed(MemberID, RemovalReason)

    /// The member the action is about.
    public var member: MemberID {
        switch self {
        case .revoke(let member, _, _), .assign(let member, _, _), .removed(let member, _): member
        }
    }

    public var description: String {
        switch self {
        case .revoke(let member, let partitions, let generation):
            "REVOKE \(member) \(partitions.map(\.description).joined(separator: ",")) generation=\(generation)"
        case .assign(let member, let partitions, let generation):
            "ASSIGN \(member) \(partitions.map(\.description).joined(separator: ",")) generation=\(generation)"
        case .removed(let member, let reason):
            "REMOVED \(member) \(reason)"
        }
    }
}
