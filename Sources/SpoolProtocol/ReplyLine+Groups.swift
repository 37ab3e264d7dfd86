import SpoolCore

/// The consumer-group lines of docs/protocol.md ("Consumer groups").
extension ReplyLine {
    /// `OK subscribed <topic,...> group=<g> member=<id> commit=<auto|manual> session=<ms>`
    public static func joined(topics: [TopicName], group: String, member: String, autoCommit: Bool, sessionMs: Int64) -> String {
        "OK subscribed \(topics.map(\.value).joined(separator: ",")) group=\(group) member=\(member) commit=\(autoCommit ? "auto" : "manual") session=\(sessionMs)"
    }

    /// `ASSIGNED <topic> <p,p,...> group=<g> generation=<n>` (pushed)
    public static func assigned(_ topic: TopicName, _ partitions: [PartitionID], group: String, generation: Int64) -> String {
        "ASSIGNED \(topic) \(partitions.map(\.description).joined(separator: ",")) group=\(group) generation=\(generation)"
    }

    /// `REVOKED <topic> <p,p,...> group=<g> generation=<n>` (pushed)
    public static func revoked(_ topic: TopicName, _ partitions: [PartitionID], group: String, generation: Int64) -> String {
        "REVOKED \(topic) \(partitions.map(\.description).joined(separator: ",")) group=\(group) generation=\(generation)"
    }

    /// `OK committed <topic> <partition> <offset>`
    public static func committed(_ topic: TopicName, _ partition: PartitionID, offset: Offset) -> String {
        "OK committed \(topic) \(partition) \(offset)"
    }

    /// `GROUP <g> generation=<n> members=<m>` (a `GROUPS` row and the first line of `GROUP`)
    public static func groupRow(_ group: String, generation: Int64, members: Int) -> String {
        "GROUP \(group) generation=\(generation) members=\(members)"
    }

    /// `END GROUPS <count>`
    public static func endGroups(count: Int) -> String { "END GROUPS \(count)" }

    /// `MEMBER <id> topics=<t,...> partitions=<t/p,...|-> session_ms=<ms> commit=<auto|manual>`
    public static func member(_ id: String, topics: [TopicName], partitions: [String], sessionMs: Int64, autoCommit: Bool) -> String {
        "MEMBER \(id) topics=\(topics.map(\.value).joined(separator: ",")) partitions=\(partitions.isEmpty ? "-" : partitions.joined(separator: ",")) session_ms=\(sessionMs) commit=\(autoCommit ? "auto" : "manual")"
    }

    /// `LAG <topic> <p> owner=<id|-> committed=<offset|-> end=<offset> lag=<records> lag_ms=<ms>`
    public static func lag(
        _ topic: TopicName, _ partition: PartitionID, owner: String?, committed: Offset?, end: Offset, lagRecords: Int64, lagMs: Int64
    ) -> String {
        "LAG \(topic) \(partition) owner=\(owner ?? "-") committed=\(committed.map(\.description) ?? "-") end=\(end) lag=\(lagRecords) lag_ms=\(lagMs)"
    }

    /// `END GROUP <g>`
    public static func endGroup(_ group: String) -> String { "END GROUP \(group)" }
}
