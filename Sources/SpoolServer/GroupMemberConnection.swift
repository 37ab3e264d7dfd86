import SpoolGroups

/// What the group manager needs from a member's connection. Every method may be called from any
/// thread (the manager calls them under its lock, to keep each member's actions in order);
/// implementations only enqueue work on their event loop.
protocol GroupMemberConnection: AnyObject, Sendable {
    /// Start delivering these partitions and push `ASSIGNED` lines.
    func groupAssigned(_ partitions: [TopicPartition], generation: Generation)
    /// Stop delivering these partitions, settle them (auto-commit) and push `REVOKED` lines; then
    /// call `done` (which completes the revocation in the coordinator).
    func groupRevoked(_ partitions: [TopicPartition], generation: Generation, done: @escaping @Sendable () -> Void)
    /// The member was dropped from its group (session expired): end its group delivery.
    func groupRemoved(_ reason: RemovalReason)
    /// Liveness: the socket is open and its output is not stalled past the session timeout.
    func isHealthy(nowMs: Int64, sessionTimeoutMs: Int64) -> Bool
}
