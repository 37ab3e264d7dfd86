import SpoolCore

/// What the coordinator remembers about one member.
struct MemberState: Sendable, Equatable {
    /// Sorted and unique, so comparing two subscriptions is an array comparison.
    var topics: [TopicName]
    var sessionTimeoutMs: Int64
    var lastSeenMs: Int64

    func subscribes(to topic: TopicName) -> Bool { topics.contains(topic) }

    /// Kafka's rule and the issue's: expired once last liveness + session timeout is in the past.
    func isExpired(now: Int64) -> Bool { lastSeenMs + sessionTimeoutMs < now }
}
