import NIOCore
import SpoolCore
import SpoolStorage

/// A group's position in one partition with its lag, for `GROUP <g>` and the client.
public struct PartitionLag: Sendable, Equatable {
    public var partition: PartitionID
    /// The committed next offset, nil when the group never committed here.
    public var committed: Offset?
    public var end: Offset
    /// Records between the committed offset (or the earliest offset) and the end.
    public var lagRecords: Int64
    /// Age of the oldest record the group has not consumed, in ms (0 when caught up).
    public var lagMs: Int64

    public init(partition: PartitionID, committed: Offset?, end: Offset, lagRecords: Int64, lagMs: Int64) {
        self.partition = partition
        self.committed = committed
        self.end = end
        self.lagRecords = lagRecords
        self.lagMs = lagMs
    }
}

extension Broker {
    /// Stores a consumer group's position (the next offset it will read) in the partition's own
    /// database, in the partition's next group commit: fsynced before the future succeeds.
    /// Ownership is checked by the caller (the group coordinator).
    public func commitOffset(
        topic name: TopicName, partition: PartitionID, group: String, nextOffset: Offset, generation: Int64, member: String,
        on loop: EventLoop
    ) -> EventLoopFuture<Void> {
        do {
            try checkRunning()
            let log = try self.topic(name).partition(partition)
            _ = try resolve(.offset(nextOffset), in: log)
            let promise = loop.makePromise(of: Void.self)
            do {
                try log.commit(
                    OffsetCommit(group: group, nextOffset: nextOffset, generation: generation, member: member, committedMs: WallClock.nowMs()),
                    promise: promise)
            } catch {
                promise.fail(error)  // never leave a promise unfulfilled
            }
            return promise.futureResult
        } catch {
            return loop.makeFailedFuture(error)
        }
    }

    /// The group's committed position in a partition, nil when it never committed there.
    public func committedOffset(topic name: TopicName, partition: PartitionID, group: String, on loop: EventLoop) -> EventLoopFuture<Offset?> {
        let log: PartitionLog
        do {
            log = try self.topic(name).partition(partition)
        } catch {
            return loop.makeFailedFuture(error)
        }
        return pool.runIfActive(eventLoop: loop) {
            try log.withReader { try $0.committedOffset(group: group)?.nextOffset }
        }.flatMapErrorThrowing { throw wireError($0) }
    }

    /// Every consumer group that committed in any partition of any topic, sorted.
    public func committedGroups(on loop: EventLoop) -> EventLoopFuture<[String]> {
        let logs = topics.withLockedValue { topics in topics.values.flatMap(\.partitions) }
        return pool.runIfActive(eventLoop: loop) {
            var groups = Set<String>()
            for log in logs where log.unavailableError == nil {
                for commit in try log.withReader({ try $0.committedOffsets() }) { groups.insert(commit.group) }
            }
            return groups.sorted()
        }.flatMapErrorThrowing { throw wireError($0) }
    }

    /// The group's committed offset and lag in every partition of `topic`. `live`: the group
    /// subscribes to the topic now; when it does not, a partition it never committed in gets no
    /// lag in ms (and costs no second read).
    public func lag(topic name: TopicName, group: String, live: Bool = true, on loop: EventLoop) -> EventLoopFuture<[PartitionLag]> {
        let topic: Topic
        do {
            topic = try self.topic(name)
        } catch {
            return loop.makeFailedFuture(error)
        }
        return pool.runIfActive(eventLoop: loop) {
            let now = WallClock.nowMs()
            // An offline partition has no lag to show (its file is lost or damaged).
            return try topic.partitions.filter { !$0.isOffline }.map { log in
                try log.withReader { reader in
                    let (earliest, end) = log.bounds
                    let committed = try reader.committedOffset(group: group)?.nextOffset
                    let from = max(committed ?? earliest, earliest)
                    let oldest = from < end && (live || committed != nil) ? try reader.timestamp(at: from) : nil
                    return PartitionLag(
                        partition: log.id, committed: committed, end: end, lagRecords: max(0, end - from),
                        lagMs: oldest.map { max(0, now - $0.rawValue) } ?? 0)
                }
            }
        }.flatMapErrorThrowing { throw wireError($0) }
    }
}

extension Broker {
    /// A group's committed offset in a partition, read where it is sure to be current: this
    /// broker's replica when it leads the partition and has committed an entry in its term (a
    /// new leader's applied state may miss the last commits until then), or the only replica.
    /// Fails `UNAVAILABLE` otherwise: the caller asks the leader (`commitRoute`) or retries.
    public func leaderCommittedOffset(topic name: TopicName, partition: PartitionID, group: String, on loop: EventLoop) -> EventLoopFuture<Offset?> {
        do {
            let log = try self.topic(name).partition(partition)
            if log.voters.count > 1 {
                guard let status = log.replicaStatus, status.role == .leader, status.committedInTerm, !status.stopped else {
                    throw SpoolError(.unavailable, "partition \(partition) of \(name): not its leader here, or the leader is new; retry")
                }
            }
        } catch {
            return loop.makeFailedFuture(error)
        }
        return committedOffset(topic: name, partition: partition, group: group, on: loop)
    }

    /// Who stores a commit for `partition`: this broker when it leads it, else the leader it
    /// knows (or a replica that knows it), as for a `PUB` with its partition named.
    public func commitRoute(topic name: TopicName, partition: PartitionID) throws(SpoolError) -> PublishRoute {
        try publishRoute(topic: name, key: nil, partition: partition)
    }
}
