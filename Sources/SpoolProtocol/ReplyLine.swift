import SpoolCore

/// The exact reply lines of docs/protocol.md (without line ends), so the server and the
/// reference cannot drift apart word by word.
public enum ReplyLine {
    /// `ERR <CODE> <message>`. The message is forced onto one line of printable text: control
    /// bytes become spaces, because a line end inside it would be read as another reply.
    public static func error(_ error: SpoolError) -> String {
        var message = ""
        message.unicodeScalars.append(
            contentsOf: error.message.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 })
        return message.isEmpty ? "ERR \(error.code.wire)" : "ERR \(error.code.wire) \(message)"
    }

    /// `PONG`
    public static let pong = "PONG"
    /// `OK bye`
    public static let bye = "OK bye"

    /// `OK <topic> partitions=<n> replication=<r>`
    public static func created(_ topic: TopicName, partitions: Int, replication: Int = 1) -> String {
        "OK \(topic) partitions=\(partitions) replication=\(replication)"
    }

    /// `TOPIC <name> partitions=<n>` (a `TOPICS` row), with ` offline=<k>` appended when `k` of
    /// its partitions are out of service.
    public static func topicRow(_ topic: TopicName, partitions: Int, offline: Int = 0) -> String {
        offline > 0 ? "TOPIC \(topic) partitions=\(partitions) offline=\(offline)" : "TOPIC \(topic) partitions=\(partitions)"
    }
    /// `END TOPICS <count>`
    public static func endTopics(count: Int) -> String { "END TOPICS \(count)" }

    /// `TOPIC <name> partitions=<n> replication=<r>` (the first line of `DESCRIBE`)
    public static func describeTopic(_ topic: TopicName, partitions: Int, replication: Int = 1) -> String {
        "TOPIC \(topic) partitions=\(partitions) replication=\(replication)"
    }
    /// `PARTITION <topic> <p> low=<earliest> high=<next> records=<n> bytes=<bytes on disk>`
    public static func describePartition(
        _ topic: TopicName, _ partition: PartitionID, low: Offset, high: Offset, records: Int64, bytes: Int64
    ) -> String {
        "PARTITION \(topic) \(partition) low=\(low) high=\(high) records=\(records) bytes=\(bytes)"
    }
    /// `PARTITION <topic> <p> offline=<lost|damaged> bytes=<bytes on disk>`: a partition out of
    /// service (its offsets are unknown).
    public static func describeOfflinePartition(_ topic: TopicName, _ partition: PartitionID, reason: String, bytes: Int64) -> String {
        "PARTITION \(topic) \(partition) offline=\(reason) bytes=\(bytes)"
    }
    /// `END DESCRIBE <topic>`
    public static func endDescribe(_ topic: TopicName) -> String { "END DESCRIBE \(topic)" }

    /// `OK dropped <topic>`
    public static func dropped(_ topic: TopicName) -> String { "OK dropped \(topic)" }

    /// `OK <topic> <partition> <offset>`, or `OK <topic> <partition> -` for `acks=none` (nil offset).
    public static func published(_ topic: TopicName, _ partition: PartitionID, offset: Offset?) -> String {
        "OK \(topic) \(partition) \(offset.map(\.description) ?? "-")"
    }

    /// `END <topic> <partition> next=<offset> high=<offset>` (ends a `FETCH`)
    public static func endFetch(_ topic: TopicName, _ partition: PartitionID, next: Offset, high: Offset) -> String {
        "END \(topic) \(partition) next=\(next) high=\(high)"
    }

    /// `OK <topic> <partition> earliest=<e> latest=<l>[ time=<t> offset=<o>]`
    public static func offsets(
        _ topic: TopicName, _ partition: PartitionID, earliest: Offset, latest: Offset, time: (TimestampMs, Offset)? = nil
    ) -> String {
        let base = "OK \(topic) \(partition) earliest=\(earliest) latest=\(latest)"
        guard let (timestamp, offset) = time else { return base }
        return base + " time=\(timestamp) offset=\(offset)"
    }

    /// `OK subscribed <topic> partitions=<n> from=<earliest|latest|offset>`
    public static func subscribed(_ topic: TopicName, partitions: Int, from: StartPosition) -> String {
        "OK subscribed \(topic) partitions=\(partitions) from=\(from)"
    }
    /// `UNSUBSCRIBED <topic> reason=dropped`: pushed when the broker ends a plain subscription
    /// (the topic was dropped); no record of that subscription follows it.
    public static func subscriptionEnded(_ topic: TopicName, reason: String) -> String {
        "UNSUBSCRIBED \(topic) reason=\(reason)"
    }
    /// `OK unsubscribed <count>`
    public static func unsubscribed(count: Int) -> String { "OK unsubscribed \(count)" }

    /// `STAT <name> <value>`
    public static func stat(_ name: String, _ value: Int64) -> String { "STAT \(name) \(value)" }
    /// `END STATS`
    public static let endStats = "END STATS"
    /// The `STAT` names, in the order the broker lists them.
    public static let statNames = [
        "uptime_ms", "connections", "connections_total", "topics", "partitions", "records_in_total",
        "records_forwarded_total", "bytes_in_total", "records_out_total", "bytes_out_total", "requests_total", "errors_total",
        "replicas", "replicas_quiesced",
    ]
}
