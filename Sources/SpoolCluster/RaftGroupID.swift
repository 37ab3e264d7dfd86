import SpoolCore

/// A topic's cluster-wide number, assigned by the metadata group when the topic is created and
/// never reused, so a message for a dropped topic can never reach a new topic of the same name.
public struct TopicID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32

    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    /// Reserved for the metadata group; no topic has it.
    public static let metadata = TopicID(0)

    public static func < (lhs: TopicID, rhs: TopicID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "topic#\(rawValue)" }
}

/// Names one Raft group: the cluster metadata group, or one partition's group. Peer frames carry it
/// in front of every Raft message, so one connection between two brokers serves every group.
public struct RaftGroupID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let topic: TopicID
    public let partition: PartitionID

    public init(topic: TopicID, partition: PartitionID) {
        precondition(topic != .metadata || partition.rawValue == 0, "the metadata group has no partitions")
        precondition(partition.rawValue >= 0, "negative partition")
        self.topic = topic
        self.partition = partition
    }

    /// The group of the cluster metadata (brokers, topics, placement).
    public static let metadata = RaftGroupID(topic: .metadata, partition: PartitionID(0))

    public var isMetadata: Bool { topic == .metadata }

    /// Packed as it travels: topic in the high 32 bits, partition in the low.
    public var rawValue: UInt64 { UInt64(topic.rawValue) << 32 | UInt64(UInt32(bitPattern: partition.rawValue)) }

    /// Nil when the low half is not a legal partition number.
    public init?(rawValue: UInt64) {
        let partition = Int32(bitPattern: UInt32(truncatingIfNeeded: rawValue))
        let topic = TopicID(UInt32(rawValue >> 32))
        guard partition >= 0, topic != .metadata || partition == 0 else { return nil }
        self.init(topic: topic, partition: PartitionID(partition))
    }

    public static func < (lhs: RaftGroupID, rhs: RaftGroupID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { isMetadata ? "metadata" : "\(topic)/\(partition)" }
}
