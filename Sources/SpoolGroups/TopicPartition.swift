import SpoolCore

/// One partition of one topic: the unit a group hands out to its members.
///
/// Ordered by topic, then partition number; printed as `orders/3`.
public struct TopicPartition: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var topic: TopicName
    public var partition: PartitionID

    public init(topic: TopicName, partition: PartitionID) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        lhs.topic != rhs.topic ? lhs.topic < rhs.topic : lhs.partition < rhs.partition
    }

    public var description: String { "\(topic)/\(partition)" }
}
