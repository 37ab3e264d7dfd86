import Raft
import SpoolGroups

/// A member as the coordinator of a cluster's groups holds it: connected to some broker (maybe
/// this one), reached only through that broker's reports (`GroupSyncRequest`). The coordinator's
/// actions are folded into what the member should hold (`target`), which its broker reads in the
/// answer to its next report and carries out.
///
/// Touched only under the `GroupManager`'s lock.
final class RemoteMember: GroupMemberConnection, @unchecked Sendable {
    let broker: NodeID
    /// What the member should hold now.
    private(set) var target: Set<TopicPartition> = []
    /// Partitions revoked from it that it still holds: each is released (and the coordinator's
    /// `revocationCompleted` called) once a report no longer lists it.
    var revoking: Set<TopicPartition> = []
    private(set) var removed: RemovalReason?

    init(broker: NodeID) { self.broker = broker }

    func groupAssigned(_ partitions: [TopicPartition], generation: Generation) {
        target.formUnion(partitions)
        revoking.subtract(partitions)
    }

    /// `done` is not kept: the release is read from the broker's next report instead.
    func groupRevoked(_ partitions: [TopicPartition], generation: Generation, done: @escaping @Sendable () -> Void) {
        target.subtract(partitions)
        revoking.formUnion(partitions)
    }

    func groupRemoved(_ reason: RemovalReason) { removed = reason }

    /// Liveness comes from its broker's reports alone (`GroupManager.sync` heartbeats it).
    func isHealthy(nowMs: Int64, sessionTimeoutMs: Int64) -> Bool { false }
}
