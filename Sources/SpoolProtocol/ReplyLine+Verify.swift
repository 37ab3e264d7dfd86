import SpoolCore

/// The lines of `VERIFY` (docs/protocol.md, "VERIFY").
extension ReplyLine {
    /// One replica's answer: its broker id and its checksum (eight hex digits), or nil when it
    /// could not answer.
    public typealias ReplicaSum = (id: UInt64, checksum: String?)

    /// `PARTITION <topic> <p> from=<offset> upto=<offset> records=<n> replicas=<id>:<crc>,... <verdict>`
    /// where the verdict is `agree` when every replica answered with the same checksum, else
    /// `differ=<ids>` (the replicas whose checksum is not the one most replicas have; on a tie,
    /// not the first replica's, the leader's) and/or `unverified=<ids>` (no answer, shown as
    /// `<id>:-`).
    public static func verifyPartition(
        _ topic: TopicName, _ partition: PartitionID, from: Offset, upTo: Offset, records: Int64, replicas: [ReplicaSum]
    ) -> String {
        precondition(!replicas.isEmpty, "a partition has at least one replica")
        let shown = replicas.map { "\($0.id):\($0.checksum ?? "-")" }.joined(separator: ",")
        return "PARTITION \(topic) \(partition) from=\(from) upto=\(upTo) records=\(records) replicas=\(shown) \(verdict(replicas))"
    }

    /// `agree`, or `differ=<ids>` and/or `unverified=<ids>` (see `verifyPartition`).
    static func verdict(_ replicas: [ReplicaSum]) -> String {
        let answered = replicas.compactMap(\.checksum)
        var counts: [String: Int] = [:]
        for sum in answered { counts[sum, default: 0] += 1 }
        // The most common checksum; among equally common ones, the first replica's to answer.
        let top = counts.values.max()
        let reference = answered.first { counts[$0] == top }
        let differ = replicas.filter { $0.checksum != nil && $0.checksum != reference }.map(\.id)
        let unverified = replicas.filter { $0.checksum == nil }.map(\.id)
        if differ.isEmpty && unverified.isEmpty { return "agree" }
        var words: [String] = []
        if !differ.isEmpty { words.append("differ=" + differ.map(String.init).joined(separator: ",")) }
        if !unverified.isEmpty { words.append("unverified=" + unverified.map(String.init).joined(separator: ",")) }
        return words.joined(separator: " ")
    }

    /// `PARTITION <topic> <p> offline=<lost|damaged>`: nothing to checksum on this broker.
    public static func verifyOfflinePartition(_ topic: TopicName, _ partition: PartitionID, reason: String) -> String {
        "PARTITION \(topic) \(partition) offline=\(reason)"
    }

    /// `END VERIFY <topic> <partitions checked>`
    public static func endVerify(_ topic: TopicName, partitions: Int) -> String { "END VERIFY \(topic) \(partitions)" }
}
