import NIOCore
import NIOPosix
import SpoolCore
import SpoolEngine
import SpoolGroups
import SpoolProtocol

#if canImport(Glibc)
import Glibc
#endif

/// `SUB ... group=`, `COMMIT` and the group member's side of assignments and revocations.
extension ConnectionHandler {
    func joinGroup(_ request: GroupSubscribeRequest, slot: Int) {
        guard let loop = eventLoop, let channel = context?.channel else { return }
        guard membership == nil, subscriptions.isEmpty else {
            fail(slot, SpoolError(.badArgument, "this connection already has a subscription; UNSUB first (one group per connection)"))
            return
        }
        let group = request.group
        let session = request.sessionTimeoutMs ?? limits.groupSessionTimeoutMs
        let member = groups.newMemberID()
        let adapter = MemberAdapter(member: member, handler: self, loop: loop, writable: channel.isWritable)
        let membership = GroupMembership(id: member, group: group, request: request, adapter: adapter)
        self.membership = membership
        do {
            // The OK goes out first: assignments the join produces arrive as tasks on this loop.
            try groups.join(
                member, group: group, topics: request.topics, sessionTimeoutMs: session, autoCommit: request.autoCommit,
                connection: adapter)
        } catch {
            self.membership = nil
            fail(slot, error)
            return
        }
        Self.configureKeepalive(channel, sessionTimeoutMs: session)
        if request.autoCommit {
            let bound = NIOLoopBound(self, eventLoop: loop)
            let interval = TimeAmount.milliseconds(limits.autoCommitIntervalMs)
            membership.autoCommitTask = loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                bound.value.commitDelivered()
            }
        }
        complete(
            slot,
            line: ReplyLine.joined(
                topics: request.topics, group: group.value, member: member.value, autoCommit: request.autoCommit, sessionMs: session))
    }

    /// A peer that vanished without closing (host gone, cable cut) is found by TCP: keepalive
    /// probes on an idle socket (within five sixths of a session of 6 s or more; the kernel counts
    /// whole seconds, so about 4 s for shorter ones), and TCP_USER_TIMEOUT for unacknowledged
    /// output. A telnet user who only reads answers the probes from their kernel and stays.
    static func configureKeepalive(_ channel: Channel, sessionTimeoutMs: Int64) {
        #if os(Linux)
        let seconds = max(1, Int32(sessionTimeoutMs / 1000))
        let options: [(Int32, Int32)] = [
            (Int32(TCP_KEEPIDLE), max(1, seconds / 3)), (Int32(TCP_KEEPINTVL), max(1, seconds / 6)), (Int32(TCP_KEEPCNT), 3),
            (Int32(TCP_USER_TIMEOUT), Int32(clamping: sessionTimeoutMs)),
        ]
        for (name, value) in options {
            _ = channel.setOption(ChannelOptions.Types.SocketOption(level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(name)), value: Int(value))
        }
        #endif
    }

    func commitOffset(_ topic: TopicName, _ partition: PartitionID, _ offset: Offset, slot: Int) {
        guard let loop = eventLoop else { return }
        guard let membership else {
            fail(slot, SpoolError(.notAssigned, "this connection is not a member of a group; SUB ... group=<g> first"))
            return
        }
        let tp = TopicPartition(topic: topic, partition: partition)
        let generation: Generation
        switch groups.checkCommit(membership.id, tp) {
        case .success(let current): generation = current
        case .failure(let error):
            fail(slot, error)
            return
        }
        let future = GroupOffsets.commit(
            broker, topic, partition, group: membership.group, nextOffset: offset, generation: generation.rawValue, member: membership.id.value,
            on: loop)
        membership.track(future, for: tp)
        let bound = NIOLoopBound(self, eventLoop: loop)
        future.whenSuccess {
            if let membership = bound.value.membership { membership.committed[tp] = max(membership.committed[tp] ?? offset, offset) }
        }
        answer(slot, future) { Reply.line(ReplyLine.committed(topic, partition, offset: offset)) }
    }

    // MARK: Called by the group manager (via MemberAdapter), on this loop.

    /// The membership `member` names, if it is still this connection's (calls for an earlier
    /// membership of this connection are stale).
    private func currentMembership(_ member: MemberID) -> GroupMembership? {
        guard let membership, membership.id == member else { return nil }
        return membership
    }

    func onAssigned(_ partitions: [TopicPartition], generation: Generation, member: MemberID) {
        guard let membership = currentMembership(member), let loop = eventLoop else { return }
        pushLines(Self.byTopic(partitions).map {
            ReplyLine.assigned($0.topic, $0.partitions, group: membership.group.value, generation: generation.rawValue)
        })
        let bound = NIOLoopBound(self, eventLoop: loop)
        let boundMembership = NIOLoopBound(membership, eventLoop: loop)
        for tp in partitions where membership.tails[tp] == nil && !membership.starting.contains(tp) {
            membership.starting.insert(tp)
            readCommitted(tp, membership: membership, bound: bound, boundMembership: boundMembership)
        }
    }

    /// Reads where the group stands in `tp` (from the partition's leader, in a cluster), then
    /// starts delivering it. A leader that cannot answer yet (none elected, new, unreachable) is
    /// asked again after `GroupMembership.retryMs` while the partition is still this member's.
    private func readCommitted(
        _ tp: TopicPartition, membership: GroupMembership, bound: NIOLoopBound<ConnectionHandler>, boundMembership: NIOLoopBound<GroupMembership>
    ) {
        guard let loop = eventLoop else { return }
        GroupOffsets.committed(broker, tp.topic, tp.partition, group: membership.group, on: loop).whenComplete { result in
            let handler = bound.value
            let membership = boundMembership.value
            if case .failure(let error as SpoolError) = result, error.code == .unavailable || error.code == .timeout {
                guard handler.membership === membership, membership.starting.contains(tp) else { return }
                loop.scheduleTask(in: .milliseconds(GroupMembership.retryMs)) {
                    guard handler.membership === membership, membership.starting.contains(tp) else { return }
                    handler.readCommitted(tp, membership: membership, bound: bound, boundMembership: boundMembership)
                }
                return
            }
            handler.startDelivery(tp, committed: result, membership: membership)
        }
    }

    private func startDelivery(_ tp: TopicPartition, committed: Result<Offset?, any Error>, membership: GroupMembership) {
        guard self.membership === membership, membership.starting.remove(tp) != nil, let loop = eventLoop else { return }
        let found: Offset?
        switch committed {
        case .success(let offset): found = offset
        case .failure(let error as SpoolError) where error.code == .unknownTopic || error.code == .shuttingDown:
            return  // the topic is gone (the manager hears of it on its next tick) or the broker stops
        case .failure(let error as SpoolError) where error.code == .partitionOffline:
            return  // its file is lost or damaged: nothing to deliver, the member keeps the rest
        case .failure(let error):
            // Starting anywhere else could skip or repeat records: give the partitions up, so the
            // group hands them to a member that can read where the group stands.
            logger.error(
                "cannot read a committed offset; the member leaves its group",
                metadata: ["group": "\(membership.group)", "member": "\(membership.id)", "partition": "\(tp)", "error": "\(error)"])
            leaveGroup(commitDelivered: false)
            context?.close(promise: nil)
            return
        }
        if remoteReplica(tp.topic, tp.partition) != nil {
            // No replica here: read it from a broker that holds one, from the group's position.
            if let committed = found { membership.committed[tp] = committed }
            let tail = RemotePartitionTail(
                topic: tp.topic, partition: tp.partition, from: found.map { .offset($0) } ?? membership.request.from, handler: self, loop: loop)
            membership.tails[tp] = tail
            if case .latest = membership.request.from, found == nil {
                tail.resolveStart().whenComplete { _ in tail.start() }
            } else {
                tail.start()
            }
            return
        }
        let start: Offset
        do {
            if let committed = found {
                membership.committed[tp] = committed
                // A commit past the retained range (records deleted, topic recreated) restarts
                // at the nearest end, like Kafka's auto.offset.reset.
                let earliest = try broker.startOffset(topic: tp.topic, partition: tp.partition, .earliest)
                let latest = try broker.startOffset(topic: tp.topic, partition: tp.partition, .latest)
                start = min(max(committed, earliest), latest)
            } else {
                start = try broker.startOffset(topic: tp.topic, partition: tp.partition, membership.request.from)
            }
        } catch {
            return  // the topic is gone; the manager hears of it on its next tick
        }
        let tail = PartitionTail(topic: tp.topic, partition: tp.partition, from: start, handler: self, loop: loop)
        membership.tails[tp] = tail
        tail.start()
    }

    func onRevoked(_ partitions: [TopicPartition], generation: Generation, member: MemberID, done: @escaping @Sendable () -> Void) {
        guard let membership = currentMembership(member), let loop = eventLoop else {
            done()
            return
        }
        var stopped: [TopicPartition: any MemberTail] = [:]
        for tp in partitions {
            membership.starting.remove(tp)
            if let tail = membership.tails.removeValue(forKey: tp) {
                tail.stop()
                stopped[tp] = tail
            }
        }
        pushLines(Self.byTopic(partitions).map {
            ReplyLine.revoked($0.topic, $0.partitions, group: membership.group.value, generation: generation.rawValue)
        })
        // Settle before letting go: commit=auto members commit what was delivered, so the next
        // owner starts right after it.
        // Commits already on their way count too: the next owner reads the group's offset once
        // this member lets go, so a commit still travelling would otherwise land after it.
        let commits = membership.request.autoCommit ? autoCommits(stopped, membership: membership, generation: generation, loop: loop) : []
        let travelling = partitions.flatMap { Array((membership.inFlight[$0] ?? [:]).values) }
        EventLoopFuture.andAllComplete(commits + travelling, on: loop).whenComplete { _ in done() }
    }

    func onRemovedFromGroup(_ reason: RemovalReason, member: MemberID) {
        guard currentMembership(member) != nil else { return }
        leaveGroup(commitDelivered: false, notifyManager: false)
        // The session expired: the peer is gone or stuck; close so it cannot act on stale state.
        context?.close(promise: nil)
    }

    /// Leaves the group: stops delivery, commits delivered offsets first when asked (a clean
    /// leave: UNSUB or QUIT of a commit=auto member), and tells the manager.
    func leaveGroup(commitDelivered: Bool, notifyManager: Bool = true) {
        guard let membership else { return }
        self.membership = nil
        membership.autoCommitTask?.cancel()
        let tails = membership.tails
        membership.tails = [:]
        membership.starting = []
        for tail in tails.values { tail.stop() }
        guard notifyManager else {
            membership.adapter.closed()
            return
        }
        // Commit before leaving: while still a member its tails are partitions it owns, and the
        // next owner reads the committed offset only once this member has left. Until then the
        // member counts as healthy, so the manager does not hand its partitions on early.
        if commitDelivered, membership.request.autoCommit, let loop = eventLoop, let generation = groups.generation(of: membership.id) {
            let commits = autoCommits(tails, membership: membership, generation: generation, loop: loop)
            let (groups, member, adapter) = (self.groups, membership.id, membership.adapter)
            EventLoopFuture.andAllComplete(commits, on: loop).whenComplete { _ in
                adapter.closed()
                groups.leave(member)
            }
        } else {
            membership.adapter.closed()
            groups.leave(membership.id)
        }
    }

    /// Periodic auto-commit of every delivered position that moved since the last commit.
    func commitDelivered() {
        guard let membership, let loop = eventLoop, let generation = groups.generation(of: membership.id) else { return }
        _ = autoCommits(membership.tails, membership: membership, generation: generation, loop: loop)
    }

    private func autoCommits(
        _ tails: [TopicPartition: any MemberTail], membership: GroupMembership, generation: Generation, loop: EventLoop
    ) -> [EventLoopFuture<Void>] {
        var futures: [EventLoopFuture<Void>] = []
        for (tp, tail) in tails.sorted(by: { $0.key < $1.key }) {
            guard let delivered = tail.deliveredOffset else { continue }
            if let committed = membership.committed[tp], committed >= delivered { continue }
            if membership.committed[tp] == nil && delivered == tail.startedAt { continue }
            let commit = GroupOffsets.commit(
                broker, tp.topic, tp.partition, group: membership.group, nextOffset: delivered, generation: generation.rawValue,
                member: membership.id.value, on: loop)
            membership.track(commit, for: tp)
            // Recorded only once stored: a failed commit is tried again on the next round.
            let bound = NIOLoopBound(membership, eventLoop: loop)
            commit.whenSuccess { bound.value.committed[tp] = max(bound.value.committed[tp] ?? delivered, delivered) }
            futures.append(commit)
        }
        return futures
    }

    private func pushLines(_ lines: [String]) {
        guard !lines.isEmpty else { return }
        _ = push(Reply.lines(lines))
    }

    static func byTopic(_ partitions: [TopicPartition]) -> [(topic: TopicName, partitions: [PartitionID])] {
        var result: [(topic: TopicName, partitions: [PartitionID])] = []
        for tp in partitions.sorted() {
            if result.last?.topic == tp.topic {
                result[result.count - 1].partitions.append(tp.partition)
            } else {
                result.append((tp.topic, [tp.partition]))
            }
        }
        return result
    }
}
