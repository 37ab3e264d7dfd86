import NIOCore
import Raft
import SpoolCluster
import SpoolCore
import SpoolReplication
import SpoolStorage

/// Topics of a cluster: created and dropped through the metadata group, whose committed
/// placement every broker applies by opening (or deleting) its own replicas (docs/cluster.md).
extension Broker {
    /// This broker's replica of the metadata group: set in cluster mode.
    var clusterGroup: MetadataReplica? { metadataGroup.withLockedValue { $0 } }

    /// The metadata group's replica as it last published itself (nil before it opens, and on a
    /// single broker). Its leader coordinates the cluster's consumer groups.
    public var metadataStatus: ReplicaStatus? { clusterGroup?.driver.status }

    /// The replication a `CREATE` without `replication=` gets: 3, or every broker of a smaller cluster.
    static func defaultReplication(brokers: Int) -> Int { min(3, brokers) }

    /// `CREATE` in a cluster: places the replicas (evenly, against what the brokers already hold),
    /// proposes the placement to the metadata group (forwarded to its leader from a follower),
    /// and answers once it is committed and applied here, and every partition this broker holds
    /// has a leader.
    func createReplicatedTopic(
        _ name: TopicName, partitions: Int, replication: Int?, group: MetadataReplica, on loop: EventLoop
    ) -> EventLoopFuture<TopicSummary> {
        let metadata = group.metadata
        let replicas: [[NodeID]]
        do {
            if metadata.topics[name] != nil { throw SpoolError(.topicExists, "topic \(name) already exists") }
            if metadata.topics.count >= config.limits.topics {
                throw SpoolError(.limitReached, "the cluster holds its limit of \(config.limits.topics) topics")
            }
            replicas = try Placement.place(
                partitions: partitions, replication: replication ?? Self.defaultReplication(brokers: metadata.voters.count),
                brokers: metadata.voters, load: metadata.load)
        } catch {
            return loop.makeFailedFuture(wireError(error))
        }
        return propose(.createTopic(name: name, replicas: replicas, createdMs: WallClock.nowMs()), to: group, on: loop)
            .flatMapThrowing { outcome -> TopicPlacement in
                switch outcome {
                case .created(let placement): return placement
                case .rejected(let error): throw error
                default: throw SpoolError(.storage, "the metadata group answered CREATE with \(outcome)")
                }
            }.flatMap { placement in
                // Applied here before the proposer hears it (`MetadataReplica.onApply`): the replicas are open.
                let logs = self.topics.withLockedValue { $0[name]?.partitions ?? [] }
                return EventLoopFuture.andAllComplete(logs.map { $0.whenServing(on: loop) }, on: loop).map {
                    TopicSummary(name: name, partitions: placement.partitions, replication: placement.replication)
                }
            }
    }

    /// `DROP` in a cluster: proposed to the metadata group; every broker closes its replicas and
    /// deletes their files when it applies it.
    func dropReplicatedTopic(_ name: TopicName, group: MetadataReplica, on loop: EventLoop) -> EventLoopFuture<Void> {
        guard group.metadata.topics[name] != nil else {
            return loop.makeFailedFuture(SpoolError(.unknownTopic, "no topic named \(name)"))
        }
        return propose(.dropTopic(name), to: group, on: loop).flatMapThrowing { outcome in
            switch outcome {
            case .dropped: return
            case .rejected(let error): throw error
            default: throw SpoolError(.storage, "the metadata group answered DROP with \(outcome)")
            }
        }
    }

    private func propose(_ command: MetadataCommand, to group: MetadataReplica, on loop: EventLoop) -> EventLoopFuture<ClusterMetadata.Outcome> {
        let promise = loop.makePromise(of: ClusterMetadata.Outcome.self)
        group.propose(command, timeoutMs: config.limits.requestTimeoutMs) { result in
            switch result {
            case .success(let outcome): promise.succeed(outcome)
            case .failure(let error): promise.fail(Self.metadataError(error))
            }
        }
        return promise.futureResult
    }

    /// The client's words for a metadata proposal that did not complete.
    static func metadataError(_ error: ReplicaError) -> SpoolError {
        switch error {
        case .notLeader:
            SpoolError(.unavailable, "the cluster has no metadata leader now (an election, or no majority of brokers up); try again")
        case .timedOut(let ms):
            SpoolError(
                .unavailable, "the cluster's metadata did not commit within \(ms) ms (no leader or no majority of brokers); it may still apply")
        case .stopped:
            SpoolError(.shuttingDown, "the broker is shutting down")
        default:
            SpoolError(.unavailable, "cluster metadata: \(error)")
        }
    }

    // MARK: Applying the metadata

    /// Makes this broker's replicas what the committed metadata says: opens (creating their
    /// files) the replicas placed here of topics it does not have yet, and closes and deletes the
    /// replicas of topics the metadata dropped (or replaced by a new topic of the same name).
    /// Idempotent, on a storage thread: at start, and after every metadata apply.
    func reconcileReplicas() {
        guard let group = clusterGroup, (try? checkRunning()) != nil else { return }
        let metadata = group.metadata
        var closing: [(TopicName, Topic)] = []
        metadataLock.withLock {
            for (name, topic) in topics.withLockedValue({ $0 }) {
                guard let placement = topic.placement, metadata.topics[name]?.id != placement.id else { continue }
                topics.withLockedValue { _ = $0.removeValue(forKey: name) }
                dropping.withLockedValue { _ = $0.insert(name) }
                closing.append((name, topic))
            }
            let busy = dropping.withLockedValue { $0 }
            for placement in metadata.sortedTopics where !busy.contains(placement.name) {
                guard topics.withLockedValue({ $0[placement.name] == nil }) else { continue }
                do {
                    guard let topic = try openReplicas(placement) else { continue }
                    topics.withLockedValue { $0[placement.name] = topic }
                } catch {
                    logger.error(
                        "cannot open this broker's replicas of a topic; they stay closed until the next start",
                        metadata: ["topic": "\(placement.name)", "error": "\(error)"])
                }
            }
            // Folders of topics dropped while this broker was down. Only a topic this broker's
            // metadata has seen created can be known dropped: after a restart the metadata may
            // still be catching up (its log is committed on the leader's word), and a folder of
            // a topic created later than what it applied so far is kept.
            for folder in FileSystem.listDirectory(layout.topicsDirectory) {
                guard let name = TopicName(folder, maxBytes: .max), metadata.topics[name] == nil, !busy.contains(name),
                    topics.withLockedValue({ $0[name] == nil }), let id = folderTopicID(name), id < metadata.nextTopicID
                else { continue }
                logger.info("removing the replicas of a topic dropped while this broker was away", metadata: ["topic": "\(name)"])
                try? discard(layout.topicDirectory(name))
            }
        }
        let loop = ticker.eventLoop
        for (name, topic) in closing {
            EventLoopFuture.andAllComplete(topic.partitions.map { $0.close(.dropped, on: loop) }, on: loop).whenComplete { _ in
                self.pool.submit { _ in
                    self.metadataLock.withLock {
                        do {
                            try self.discard(self.layout.topicDirectory(name))
                        } catch {
                            self.logger.error("cannot remove a dropped topic's files", metadata: ["topic": "\(name)", "error": "\(error)"])
                        }
                    }
                    self.dropping.withLockedValue { _ = $0.remove(name) }
                    self.logger.info("dropped topic", metadata: ["topic": "\(name)"])
                    // A topic of the same name created meanwhile waited for these files to go.
                    self.reconcileReplicas()
                }
            }
        }
    }

    /// The id of the topic a folder under `topics/` holds; nil without a readable `topic.id`.
    private func folderTopicID(_ name: TopicName) -> TopicID? {
        guard let text = FileSystem.readFile(layout.topicIDFile(name)),
            let value = UInt32(text.filter { !$0.isWhitespace })
        else { return nil }
        return TopicID(value)
    }

    /// Opens this broker's replicas of `placement`, creating the topic's folder (built in
    /// `staging/`, renamed whole) when it has none. A folder of an older topic of the name (one
    /// dropped while this broker was down) is replaced; nil when the folder holds a newer one
    /// than `placement` (the metadata is behind; nothing is opened until it catches up).
    /// Storage thread, metadata lock held.
    private func openReplicas(_ placement: TopicPlacement) throws -> Topic? {
        let name = placement.name
        let local = (0..<placement.partitions).map { PartitionID($0) }.filter { placement.replicas[Int($0.rawValue)].contains(config.nodeID) }
        guard !local.isEmpty else { return Topic(placement: placement, partitions: []) }
        let directory = layout.topicDirectory(name)
        let idText = "\(placement.id.rawValue)\n"
        if FileSystem.exists(directory), let held = folderTopicID(name), held != placement.id {
            // A newer topic of the name than the metadata applied so far: it is still catching up.
            guard held < placement.id else { return nil }
            logger.warning("replacing a folder that holds another topic of the same name", metadata: ["folder": "\(directory)"])
            try discard(directory)
        }
        if !FileSystem.exists(directory) {
            let staging = layout.stagingTopicDirectory(name)
            try FileSystem.removeTree(staging)
            try FileSystem.makeDirectories(staging)
            for id in local { try RaftLogStore.createPartitionFile(path: layout.stagingPartitionDatabase(name, id)) }
            try FileSystem.writeFile(layout.stagingTopicIDFile(name), idText)
            FileSystem.syncDirectory(staging)
            try FileSystem.rename(staging, to: directory)
            FileSystem.syncDirectory(layout.topicsDirectory)
            FileSystem.syncDirectory(layout.stagingDirectory)
            logger.info(
                "created this broker's replicas of a topic",
                metadata: ["topic": "\(name)", "partitions": "\(local.map(\.rawValue))", "replication": "\(placement.replication)"])
        }
        let logs = try openPartitions(name, local) { (group: placement.group($0), voters: placement.replicas[Int($0.rawValue)]) }
        return Topic(placement: placement, partitions: logs)
    }
}
