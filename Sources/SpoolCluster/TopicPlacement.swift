import Raft
import SpoolCore

/// A topic as the cluster metadata knows it: its id, shape and where each partition lives.
public struct TopicPlacement: Hashable, Sendable {
    public var id: TopicID
    public var name: TopicName
    /// Per partition, its replicas; the first is the preferred leader.
    public var replicas: [[NodeID]]
    public var createdMs: Int64

    public init(id: TopicID, name: TopicName, replicas: [[NodeID]], createdMs: Int64) {
        precondition(!replicas.isEmpty, "a topic has at least one partition")
        self.id = id
        self.name = name
        self.replicas = replicas
        self.createdMs = createdMs
    }

    public var partitions: Int { replicas.count }
    public var replication: Int { replicas[0].count }

    public func group(_ partition: PartitionID) -> RaftGroupID { RaftGroupID(topic: id, partition: partition) }
}

/// A broker as the cluster metadata knows it.
public struct BrokerRecord: Hashable, Sendable {
    public var id: NodeID
    /// Where clients reach it, as it announced (empty until it has).
    public var clientAddress: String

    public init(id: NodeID, clientAddress: String) {
        self.id = id
        self.clientAddress = clientAddress
    }
}
