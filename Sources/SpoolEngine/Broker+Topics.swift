import NIOCore
import SpoolCore
import SpoolStorage

extension Broker {
    /// Every topic, sorted by name. Reads memory only, so it may run on an event loop.
    public func listTopics() -> [TopicSummary] {
        topics.withLockedValue { topics in
            topics.values.map { TopicSummary(name: $0.name, partitions: $0.partitions.count, replication: 1) }
        }.sorted { $0.name < $1.name }
    }

    /// The number of partitions of `topic`.
    public func partitionCount(_ topic: TopicName) throws(SpoolError) -> Int {
        try self.topic(topic).partitions.count
    }

    public func createTopic(_ name: TopicName, partitions: Int, on loop: EventLoop) -> EventLoopFuture<TopicSummary> {
        do {
            try checkRunning()
            guard partitions >= 1, partitions <= config.limits.partitionsPerTopic else {
                throw SpoolError(.badArgument, "partitions must be 1...\(config.limits.partitionsPerTopic)")
            }
        } catch {
            return loop.makeFailedFuture(error)
        }
        return pool.runIfActive(eventLoop: loop) {
            try self.metadataLock.withLock {
                try self.createTopicLocked(name, partitions: partitions)
            }
        }.flatMapErrorThrowing { throw wireError($0) }
    }

    /// Storage thread, metadata lock held.
    private func createTopicLocked(_ name: TopicName, partitions: Int) throws -> TopicSummary {
        let (exists, count) = topics.withLockedValue { ($0[name] != nil, $0.count) }
        if exists { throw SpoolError(.topicExists, "topic \(name) already exists") }
        if dropping.withLockedValue({ $0.contains(name) }) {
            throw SpoolError(.topicExists, "topic \(name) is still being dropped; try again")
        }
        if count >= config.limits.topics {
            throw SpoolError(.limitReached, "the broker holds its limit of \(config.limits.topics) topics")
        }
        // Files of a topic whose creation or removal a crash interrupted are not a topic
        // (the metadata row is written last on create and first on drop): clear them.
        try removeTopicFiles(name, partitionsAtLeast: partitions)
        let directory = layout.topicDirectory(name)
        try FileSystem.makeDirectories(directory)
        let createdMs = WallClock.nowMs()
        let topic: Topic
        do {
            topic = try openTopic(name, partitions: partitions, createdMs: createdMs)
            FileSystem.syncDirectory(directory)
            try metadata.insert(TopicRecord(name: name.value, partitions: partitions, createdMs: createdMs))
        } catch {
            try? removeTopicFiles(name, partitionsAtLeast: partitions)
            throw error
        }
        topics.withLockedValue { $0[name] = topic }
        logger.info("created topic", metadata: ["topic": "\(name)", "partitions": "\(partitions)"])
        return TopicSummary(name: name, partitions: partitions, replication: 1)
    }

    /// Removes a topic's partition files and folder. Storage thread only.
    private func removeTopicFiles(_ name: TopicName, partitionsAtLeast partitions: Int) throws {
        let directory = layout.topicDirectory(name)
        guard FileSystem.exists(directory) else { return }
        // Partition files are named 0.sqlite3, 1.sqlite3, ...; stop at the first gap past the
        // count we know of.
        var index = 0
        while index < partitions || FileSystem.exists(layout.partitionDatabase(name, PartitionID(index))) {
            try FileSystem.removeDatabase(layout.partitionDatabase(name, PartitionID(index)))
            index += 1
        }
        try FileSystem.removeDirectory(directory)
        FileSystem.syncDirectory(layout.topicsDirectory)
    }

    /// Removes a topic and all its records. Queued writes to it fail with `UNKNOWN_TOPIC`.
    public func dropTopic(_ name: TopicName, on loop: EventLoop) -> EventLoopFuture<Void> {
        let removed: Topic
        do {
            try checkRunning()
            removed = try topic(name)
        } catch {
            return loop.makeFailedFuture(error)
        }
        return pool.runIfActive(eventLoop: loop) {
            try self.metadataLock.withLock {
                guard self.topics.withLockedValue({ $0[name] === removed }) else {
                    throw SpoolError(.unknownTopic, "no topic named \(name)")
                }
                // Metadata first: if we crash after it, the leftover files are cleared on the
                // next CREATE of the name and never come back as a topic.
                try self.metadata.delete(topic: name.value)
                self.topics.withLockedValue { _ = $0.removeValue(forKey: name) }
                self.dropping.withLockedValue { _ = $0.insert(name) }
            }
        }.flatMap {
            EventLoopFuture.andAllSucceed(removed.partitions.map { $0.close(.dropped, on: loop) }, on: loop)
        }.flatMap {
            self.pool.runIfActive(eventLoop: loop) {
                defer { self.dropping.withLockedValue { _ = $0.remove(name) } }
                try self.metadataLock.withLock {
                    try self.removeTopicFiles(name, partitionsAtLeast: removed.partitions.count)
                }
                self.logger.info("dropped topic", metadata: ["topic": "\(name)"])
            }
        }.flatMapErrorThrowing { throw wireError($0) }
    }

    /// The topic's shape and, per partition, its offsets, record count and size on disk.
    public func describe(_ name: TopicName, on loop: EventLoop) -> EventLoopFuture<(TopicSummary, [PartitionSummary])> {
        let topic: Topic
        do {
            topic = try self.topic(name)
        } catch {
            return loop.makeFailedFuture(error)
        }
        return pool.runIfActive(eventLoop: loop) {
            let partitions = topic.partitions.map { log in
                let (earliest, high) = log.bounds
                return PartitionSummary(
                    partition: log.id, earliest: earliest, high: high, records: high - earliest, diskBytes: log.diskBytes())
            }
            return (TopicSummary(name: name, partitions: topic.partitions.count, replication: 1), partitions)
        }.flatMapErrorThrowing { throw wireError($0) }
    }
}
