import NIOCore
import SpoolCore
import SpoolStorage

extension Broker {
    /// Every topic, sorted by name. Reads memory only, so it may run on an event loop.
    public func listTopics() -> [TopicSummary] {
        topics.withLockedValue { topics in
            topics.values.map {
                TopicSummary(name: $0.name, partitions: $0.partitionCount, replication: $0.replication, offlinePartitions: $0.offlineCount)
            }
        }.sorted { $0.name < $1.name }
    }

    /// The number of partitions of `topic`.
    public func partitionCount(_ topic: TopicName) throws(SpoolError) -> Int {
        try self.topic(topic).partitionCount
    }

    /// Creates a topic: on a single broker its files here (`replication` must be 1 or nil); in a
    /// cluster through the metadata group (`createReplicatedTopic`).
    public func createTopic(_ name: TopicName, partitions: Int, replication: Int? = nil, on loop: EventLoop) -> EventLoopFuture<TopicSummary> {
        do {
            try checkRunning()
            guard partitions >= 1, partitions <= config.limits.partitionsPerTopic else {
                throw SpoolError(.badArgument, "partitions must be 1...\(config.limits.partitionsPerTopic)")
            }
            if let group = clusterGroup {
                return createReplicatedTopic(name, partitions: partitions, replication: replication, group: group, on: loop)
            }
            if let replication, replication > 1 {
                throw SpoolError(.badArgument, "replication=\(replication) needs \(replication) brokers; this broker runs alone")
            }
        } catch {
            return loop.makeFailedFuture(error)
        }
        return pool.runIfActive(eventLoop: loop) {
            try self.metadataLock.withLock {
                try self.createTopicLocked(name, partitions: partitions)
            }
        }.flatMap { summary in
            // OK once every new partition's replica leads and has committed its first entry, so
            // the first PUB never meets a replica that is still electing itself.
            let logs = self.topics.withLockedValue { $0[name]?.partitions ?? [] }
            return EventLoopFuture.andAllComplete(logs.map { $0.whenServing(on: loop) }, on: loop).map { summary }
        }.flatMapErrorThrowing { throw wireError($0) }
    }

    /// Storage thread, metadata lock held.
    ///
    /// Crash-safe: the partition files are built in `staging/<name>`, the folder is renamed into
    /// `topics/` whole, and the metadata row, written last, is what makes it a topic. A crash at
    /// any point leaves either nothing, or a folder that the next start (staging) or the next
    /// CREATE of the name (topics/) clears.
    private func createTopicLocked(_ name: TopicName, partitions: Int) throws -> TopicSummary {
        let (exists, count, open) = topics.withLockedValue { topics in
            (topics[name] != nil, topics.count, topics.values.reduce(0) { $0 + $1.partitions.count })
        }
        if exists { throw SpoolError(.topicExists, "topic \(name) already exists") }
        if dropping.withLockedValue({ $0.contains(name) }) {
            throw SpoolError(.topicExists, "topic \(name) is still being dropped; try again")
        }
        if count >= config.limits.topics {
            throw SpoolError(.limitReached, "the broker holds its limit of \(config.limits.topics) topics")
        }
        guard fileHandles.fits(partitions: open + partitions) else {
            logger.warning(
                "CREATE refused: not enough file descriptors", metadata: ["topic": "\(name)", "reason": "\(fileHandles.shortage(partitions: open + partitions))"])
            throw SpoolError(
                .limitReached,
                "not enough file descriptors for \(partitions) more partitions: room for \(fileHandles.partitionCapacity - open) "
                    + "beside \(open) open partitions and \(fileHandles.connections) connections (ulimit -n is \(fileHandles.limit))")
        }
        let staging = layout.stagingTopicDirectory(name)
        let directory = layout.topicDirectory(name)
        let createdMs = WallClock.nowMs()
        var topic: Topic?
        do {
            try FileSystem.removeTree(staging)
            try FileSystem.makeDirectories(staging)
            for index in 0..<partitions {
                // Created, migrated and closed (checkpointed into one file) before the rename.
                try RaftLogStore.createPartitionFile(path: layout.stagingPartitionDatabase(name, PartitionID(index)))
            }
            FileSystem.syncDirectory(staging)
            if FileSystem.exists(directory) {
                // Not a topic (the metadata row is written last on create and removed first on
                // drop): the files of a CREATE or DROP a crash interrupted.
                logger.warning("replacing a leftover folder that is not a topic", metadata: ["folder": "\(directory)"])
                try discard(directory)
            }
            try FileSystem.rename(staging, to: directory)
            FileSystem.syncDirectory(layout.topicsDirectory)
            FileSystem.syncDirectory(layout.stagingDirectory)
            topic = try openTopic(name, partitions: partitions, createdMs: createdMs)
            if let offline = topic?.offlineCount, offline > 0 {
                throw SpoolError(.storage, "the new partitions of \(name) could not be opened (the broker's log says why)")
            }
            try metadata.insert(TopicRecord(name: name.value, partitions: partitions, createdMs: createdMs))
        } catch {
            for log in topic?.partitions ?? [] { log.closeNow() }
            try? FileSystem.removeTree(staging)
            if FileSystem.exists(directory) { try? discard(directory) }
            if let error = error as? StorageError {
                logger.error("CREATE failed", metadata: ["topic": "\(name)", "error": "\(error)"])
                throw SpoolError(.storage, "creating topic \(name) failed: \(error.summary)")
            }
            throw error
        }
        topics.withLockedValue { $0[name] = topic }
        logger.info("created topic", metadata: ["topic": "\(name)", "partitions": "\(partitions)"])
        return TopicSummary(name: name, partitions: partitions, replication: 1)
    }

    /// Removes a folder of partition files: renamed into `trash/` first (atomic, so `topics/`
    /// never holds a half-deleted topic), then deleted; a crash mid-delete is finished at the
    /// next start. Storage thread only.
    func discard(_ directory: String) throws {
        guard FileSystem.exists(directory) else { return }
        try FileSystem.makeDirectories(layout.trashDirectory)
        let trashed = layout.trashDirectory + "/\(WallClock.monotonicNs())"
        try FileSystem.rename(directory, to: trashed)
        FileSystem.syncDirectory(layout.topicsDirectory)
        try FileSystem.removeTree(trashed)
    }

    /// Removes a topic and all its records. Queued writes to it fail with `UNKNOWN_TOPIC`.
    public func dropTopic(_ name: TopicName, on loop: EventLoop) -> EventLoopFuture<Void> {
        let removed: Topic
        do {
            try checkRunning()
            if let group = clusterGroup { return dropReplicatedTopic(name, group: group, on: loop) }
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
                    try self.discard(self.layout.topicDirectory(name))
                }
                self.logger.info("dropped topic", metadata: ["topic": "\(name)"])
            }
        }.flatMapErrorThrowing { error in
            if let error = error as? StorageError {
                self.logger.error("DROP failed", metadata: ["topic": "\(name)", "error": "\(error)"])
                throw SpoolError(.storage, "dropping topic \(name) failed: \(error.summary)")
            }
            throw wireError(error)
        }
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
                    partition: log.id, earliest: earliest, high: high, records: high - earliest, diskBytes: log.diskBytes(),
                    offline: log.offlineReason)
            }
            return (
                TopicSummary(name: name, partitions: topic.partitionCount, replication: topic.replication, offlinePartitions: topic.offlineCount),
                partitions
            )
        }.flatMapErrorThrowing { throw wireError($0) }
    }
}
