import NIOCore
import Synchronization
import SpoolCore
import SpoolGroups
import SpoolProtocol

/// One connection's membership in a consumer group; lives on the connection's event loop.
final class GroupMembership {
    let id: MemberID
    let group: GroupName
    let request: GroupSubscribeRequest
    let sessionTimeoutMs: Int64
    let adapter: MemberAdapter
    /// Partitions being delivered now.
    var tails: [TopicPartition: PartitionTail] = [:]
    /// Partitions assigned whose start offset is still being looked up.
    var starting: Set<TopicPartition> = []
    /// The last offset this member committed per partition (or found committed at assignment).
    var committed: [TopicPartition: Offset] = [:]
    var autoCommitTask: RepeatedTask?

    init(id: MemberID, group: GroupName, request: GroupSubscribeRequest, sessionTimeoutMs: Int64, adapter: MemberAdapter) {
        self.id = id
        self.group = group
        self.request = request
        self.sessionTimeoutMs = sessionTimeoutMs
        self.adapter = adapter
    }
}

/// The `GroupMemberConnection` the manager holds: hops every call onto the connection's loop.
final class MemberAdapter: GroupMemberConnection {
    private let loop: EventLoop
    private let handler: NIOLoopBound<ConnectionHandler>
    private let open = Atomic<Bool>(true)
    /// Monotonic ms since the socket stopped taking output, 0 while it takes it.
    private let stalledSinceMs = Atomic<Int64>(0)

    init(handler: ConnectionHandler, loop: EventLoop) {
        self.loop = loop
        self.handler = NIOLoopBound(handler, eventLoop: loop)
    }

    func closed() { open.store(false, ordering: .relaxed) }

    func writabilityChanged(_ writable: Bool) {
        stalledSinceMs.store(writable ? 0 : GroupManager.nowMs(), ordering: .relaxed)
    }

    func groupAssigned(_ partitions: [TopicPartition], generation: Generation) {
        let handler = self.handler
        loop.execute { handler.value.onAssigned(partitions, generation: generation) }
    }

    func groupRevoked(_ partitions: [TopicPartition], generation: Generation, done: @escaping @Sendable () -> Void) {
        let handler = self.handler
        loop.execute { handler.value.onRevoked(partitions, generation: generation, done: done) }
    }

    func groupRemoved(_ reason: RemovalReason) {
        let handler = self.handler
        loop.execute { handler.value.onRemovedFromGroup(reason) }
    }

    func isHealthy(nowMs: Int64, sessionTimeoutMs: Int64) -> Bool {
        guard open.load(ordering: .relaxed) else { return false }
        let stalled = stalledSinceMs.load(ordering: .relaxed)
        return stalled == 0 || nowMs - stalled < sessionTimeoutMs
    }
}
