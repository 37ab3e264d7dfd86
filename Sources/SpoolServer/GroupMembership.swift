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
    let adapter: MemberAdapter
    /// Partitions being delivered now.
    var tails: [TopicPartition: any MemberTail] = [:]
    /// Partitions assigned whose start offset is still being looked up.
    var starting: Set<TopicPartition> = []
    /// The last offset this member committed per partition (or found committed at assignment).
    var committed: [TopicPartition: Offset] = [:]
    var autoCommitTask: RepeatedTask?
    /// Commits sent and not yet answered, per partition (a revocation waits for them).
    var inFlight: [TopicPartition: [Int: EventLoopFuture<Void>]] = [:]
    private var nextCommit = 0

    /// How long to wait before asking again for a committed offset no leader could answer.
    static let retryMs: Int64 = 500

    init(id: MemberID, group: GroupName, request: GroupSubscribeRequest, adapter: MemberAdapter) {
        self.id = id
        self.group = group
        self.request = request
        self.adapter = adapter
    }

    /// Keeps `commit` in `inFlight` until it completes. On the connection's event loop.
    func track(_ commit: EventLoopFuture<Void>, for partition: TopicPartition) {
        nextCommit += 1
        let id = nextCommit
        inFlight[partition, default: [:]][id] = commit
        let bound = NIOLoopBound(self, eventLoop: commit.eventLoop)
        commit.whenComplete { _ in
            let membership = bound.value
            membership.inFlight[partition]?[id] = nil
            if membership.inFlight[partition]?.isEmpty == true { membership.inFlight[partition] = nil }
        }
    }
}

/// The `GroupMemberConnection` the manager holds: hops every call onto the connection's loop.
///
/// Each call carries the member it was meant for: a connection can leave a group and join again
/// (UNSUB, then SUB ... group=), and a call queued for the old membership must not act on the new.
final class MemberAdapter: GroupMemberConnection {
    private let member: MemberID
    private let loop: EventLoop
    private let handler: NIOLoopBound<ConnectionHandler>
    private let open = Atomic<Bool>(true)
    /// Monotonic ms since the socket stopped taking output, 0 while it takes it.
    private let stalledSinceMs = Atomic<Int64>(0)

    /// `writable`: whether the socket takes output now (a member may join already stalled).
    init(member: MemberID, handler: ConnectionHandler, loop: EventLoop, writable: Bool) {
        self.member = member
        self.loop = loop
        self.handler = NIOLoopBound(handler, eventLoop: loop)
        writabilityChanged(writable)
    }

    func closed() { open.store(false, ordering: .relaxed) }

    func writabilityChanged(_ writable: Bool) {
        stalledSinceMs.store(writable ? 0 : GroupManager.nowMs(), ordering: .relaxed)
    }

    func groupAssigned(_ partitions: [TopicPartition], generation: Generation) {
        let (handler, member) = (self.handler, self.member)
        loop.execute { handler.value.onAssigned(partitions, generation: generation, member: member) }
    }

    func groupRevoked(_ partitions: [TopicPartition], generation: Generation, done: @escaping @Sendable () -> Void) {
        let (handler, member) = (self.handler, self.member)
        loop.execute { handler.value.onRevoked(partitions, generation: generation, member: member, done: done) }
    }

    func groupRemoved(_ reason: RemovalReason) {
        let (handler, member) = (self.handler, self.member)
        loop.execute { handler.value.onRemovedFromGroup(reason, member: member) }
    }

    func isHealthy(nowMs: Int64, sessionTimeoutMs: Int64) -> Bool {
        guard open.load(ordering: .relaxed) else { return false }
        let stalled = stalledSinceMs.load(ordering: .relaxed)
        return stalled == 0 || nowMs - stalled < sessionTimeoutMs
    }
}
