import NIOCore
import Raft
import SpoolCluster
import SpoolCore
import SpoolReplication

/// Where a write goes when this broker does not lead its partition, and what this broker can
/// tell others as a leader (docs/cluster.md, "Any broker accepts any command").
public enum PublishRoute: Equatable, Sendable {
    /// This broker leads the partition (or holds its only replica): append here.
    case local(PartitionID)
    /// Send the record to `node`: the leader this broker knows, or, when it holds no replica of
    /// the partition, a replica that can pass it on to the leader it knows.
    case forward(PartitionID, to: NodeID)
}

extension Broker {
    /// The partition a `PUB` goes to and who appends it. Errors are the `PUB`'s own (unknown
    /// topic or partition); an offline or leaderless local partition routes `.local` so that the
    /// append answers why.
    public func publishRoute(topic name: TopicName, key: ByteBuffer?, partition: PartitionID?) throws(SpoolError) -> PublishRoute {
        let topic = try self.topic(name)
        let id: PartitionID
        if let partition {
            guard partition.rawValue >= 0, Int(partition.rawValue) < topic.partitionCount else {
                throw SpoolError(.unknownPartition, "topic \(name) has partitions 0...\(topic.partitionCount - 1), not \(partition)")
            }
            id = partition
        } else if let key {
            id = key.withUnsafeReadableBytes { Partitioner.partition(forKey: $0, partitionCount: topic.partitionCount) }
        } else {
            id = topic.nextKeylessPartition(anyLeader: true)
        }
        guard topic.placement != nil else { return .local(id) }
        if let log = topic.local(id) {
            if log.leadsOrAlone { return .local(id) }
            guard let leader = log.replicaStatus?.leader, leader != .none, leader != config.nodeID else { return .local(id) }
            return .forward(id, to: leader)
        }
        // No replica here: the first replica this broker has a connection to passes it on.
        let replicas = topic.replicas(of: id).filter { $0 != config.nodeID }
        let target = replicas.first { router.isConnected($0) } ?? replicas.first
        guard let target else { return .local(id) }
        return .forward(id, to: target)
    }

    /// The partitions this broker leads now (of `topic`, or of every topic), as their leader sees
    /// them. Partitions of a single broker's topics are led by it alone.
    public func leaderStates(topic name: TopicName?) -> [LeaderState] {
        let chosen: [Topic] = topics.withLockedValue { topics in
            if let name { return topics[name].map { [$0] } ?? [] }
            return Array(topics.values)
        }
        var states: [LeaderState] = []
        for topic in chosen {
            for log in topic.partitions where !log.isOffline {
                if let status = log.replicaStatus {
                    guard status.role == .leader, !status.stopped else { continue }
                    // In sync: holds every committed entry and is connected now (a broker that
                    // died still matched the commit index until the next record).
                    let inSync = status.inSync.filter { $0 == config.nodeID || router.isConnected($0) }
                    states.append(
                        LeaderState(
                            topic: topic.name, partition: log.id, term: status.term, leader: config.nodeID,
                            inSync: inSync, high: status.highWatermark))
                } else if log.voters.count <= 1 {
                    states.append(
                        LeaderState(topic: topic.name, partition: log.id, term: Term(0), leader: config.nodeID, inSync: [config.nodeID], high: log.bounds.high))
                }
            }
        }
        return states
    }

    /// The replicas of each partition of `topic`, in partition order (the metadata group's
    /// placement; this broker alone for a single broker's topic).
    public func replicaPlacement(_ name: TopicName) throws(SpoolError) -> [[NodeID]] {
        let topic = try self.topic(name)
        return (0..<topic.partitionCount).map { topic.replicas(of: PartitionID(Int32($0))) }
    }

    /// What this broker's own replica of a partition knows: its leader (none when it knows of
    /// none) and its high watermark; nil when it holds no replica.
    public func localReplicaView(_ name: TopicName, _ partition: PartitionID) -> (leader: NodeID, high: Offset)? {
        guard let topic = try? self.topic(name), let log = topic.local(partition), !log.isOffline else { return nil }
        guard let status = log.replicaStatus else { return (config.nodeID, log.bounds.high) }
        return (status.leader, status.highWatermark)
    }
}

extension Broker {
    /// The broker to ask for a read of a partition that has no replica here: the first of its
    /// replicas with a peer connection now (else the first). Nil when this broker holds one, or
    /// for a topic or partition that does not exist (the local path answers that).
    public func replicaElsewhere(topic name: TopicName, partition: PartitionID) -> NodeID? {
        guard let topic = try? self.topic(name), topic.placement != nil, partition.rawValue >= 0,
            Int(partition.rawValue) < topic.partitionCount, topic.local(partition) == nil
        else { return nil }
        let replicas = topic.replicas(of: partition).filter { $0 != config.nodeID }
        return replicas.first { router.isConnected($0) } ?? replicas.first
    }
}
