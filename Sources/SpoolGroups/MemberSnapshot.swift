import SpoolCore

/// One member as `GROUP <g>` shows it.
public struct MemberSnapshot: Sendable, Equatable {
    public var id: MemberID
    /// Subscribed topics, sorted.
    public var topics: [TopicName]
    public var sessionTimeoutMs: Int64
    /// Last join or heartbeat, in the driver's milliseconds.
    public var lastSeenMs: Int64
    /// Partitions it owns now (including ones being revoked from it), sorted.
    public var owned: [TopicPartition]

    public init(id: MemberID, topics: [TopicName], sessionTimeoutMs: Int64, lastSeenMs: Int64, owned: [TopicPartition]) {
        self.id = id
        self.topics = topics
        self.sessionTimeoutMs = sessionTimeoutMs
        self.lastSeenMs = lastSeenMs
        self.owned = owned
    }
}
