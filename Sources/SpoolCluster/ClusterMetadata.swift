import Raft
import SpoolCore

/// The cluster's metadata: brokers, topics and where every partition's replicas live. The pure
/// state machine of the metadata Raft group: every broker applies the same committed commands in
/// the same order and so holds the same value (docs/cluster.md).
///
/// A command that cannot apply (a topic created twice by two brokers racing, a drop of a topic
/// already gone) is committed all the same and answered with its error; it changes nothing, so
/// every broker rejects it alike.
public struct ClusterMetadata: Hashable, Sendable {
    /// The voters of the metadata group (`--peers`), sorted. Static for now.
    public let voters: [NodeID]
    public private(set) var brokers: [NodeID: BrokerRecord]
    public private(set) var topics: [TopicName: TopicPlacement] = [:]
    /// Never reused, so a message for a dropped topic cannot reach a new topic of the same name.
    public private(set) var nextTopicID = TopicID(1)
    /// The index of the last entry applied (commands and entries of other kinds alike).
    public private(set) var appliedIndex = LogIndex.zero

    public init(voters: [NodeID]) {
        precondition(!voters.isEmpty && !voters.contains(.none), "a cluster has at least one broker, none with id 0")
        self.voters = Array(Set(voters)).sorted()
        self.brokers = Dictionary(uniqueKeysWithValues: self.voters.map { ($0, BrokerRecord(id: $0, clientAddress: "")) })
    }

    public enum Outcome: Equatable, Sendable {
        case registered(BrokerRecord)
        case created(TopicPlacement)
        case dropped(TopicPlacement)
        /// Applied as a no-op; the proposer answers the client with this error.
        case rejected(SpoolError)
    }

    /// Applies the committed entry at `index`. Indexes must arrive in order, each once.
    @discardableResult
    public mutating func apply(_ command: MetadataCommand, at index: LogIndex) -> Outcome {
        precondition(index > appliedIndex, "metadata entry \(index) applied after \(appliedIndex)")
        appliedIndex = index
        switch command {
        case .registerBroker(let broker):
            guard brokers[broker.id] != nil else {
                return .rejected(SpoolError(.badArgument, "broker \(broker.id.rawValue) is not a member of this cluster"))
            }
            brokers[broker.id] = broker
            return .registered(broker)
        case .createTopic(let name, let replicas, let createdMs):
            if topics[name] != nil { return .rejected(SpoolError(.topicExists, "topic \(name) already exists")) }
            if let problem = placementProblem(replicas) { return .rejected(SpoolError(.badArgument, problem)) }
            let topic = TopicPlacement(id: nextTopicID, name: name, replicas: replicas, createdMs: createdMs)
            nextTopicID = TopicID(nextTopicID.rawValue + 1)
            topics[name] = topic
            return .created(topic)
        case .dropTopic(let name):
            guard let topic = topics.removeValue(forKey: name) else {
                return .rejected(SpoolError(.unknownTopic, "no topic named \(name)"))
            }
            return .dropped(topic)
        }
    }

    /// Marks an entry that carries no command (a Raft no-op) as applied.
    public mutating func skip(_ index: LogIndex) {
        precondition(index > appliedIndex, "metadata entry \(index) applied after \(appliedIndex)")
        appliedIndex = index
    }

    /// Why a proposed placement cannot be applied, or nil when it can.
    func placementProblem(_ replicas: [[NodeID]]) -> String? {
        guard let replication = replicas.first?.count, replication >= 1 else { return "a topic needs partitions and replicas" }
        for (partition, brokersOfPartition) in replicas.enumerated() {
            if brokersOfPartition.count != replication { return "partition \(partition) has \(brokersOfPartition.count) replicas, not \(replication)" }
            if Set(brokersOfPartition).count != replication { return "partition \(partition) names a broker twice" }
            if let unknown = brokersOfPartition.first(where: { brokers[$0] == nil }) {
                return "partition \(partition) names broker \(unknown.rawValue), which is not in the cluster"
            }
        }
        return nil
    }

    /// Every topic sorted by name.
    public var sortedTopics: [TopicPlacement] { topics.values.sorted { $0.name < $1.name } }

    /// What placing a new topic should balance against.
    public var load: [NodeID: BrokerLoad] { Placement.load(of: topics.values, brokers: voters) }

    /// The partition groups this broker holds a replica of, sorted.
    public func groups(on broker: NodeID) -> [RaftGroupID] {
        sortedTopics.flatMap { topic in
            topic.replicas.enumerated().compactMap { partition, replicas in
                replicas.contains(broker) ? topic.group(PartitionID(partition)) : nil
            }
        }
    }
}
