import SpoolCore

/// The lines of `METADATA` (docs/protocol.md, "METADATA"). Broker ids are the `--node-id`s, plain
/// numbers on the wire.
extension ReplyLine {
    /// `BROKER <id> <host:port|-> <up|down>`: a voter, its client address (`-` while unknown) and
    /// whether this broker reaches it now.
    public static func metadataBroker(id: UInt64, address: String?, up: Bool) -> String {
        "BROKER \(id) \(address ?? "-") \(up ? "up" : "down")"
    }

    /// `PARTITION <topic> <p> leader=<id|-> replicas=<id,...> isr=<id,...|-> high=<offset|->`, with
    /// ` offline=<lost|damaged>` appended for a partition out of service (no leader, no offsets).
    public static func metadataPartition(
        _ topic: TopicName, _ partition: PartitionID, leader: UInt64?, replicas: [UInt64], isr: [UInt64], high: Offset?,
        offline: String? = nil
    ) -> String {
        let line =
            "PARTITION \(topic) \(partition) leader=\(leader.map(String.init) ?? "-") replicas=\(ids(replicas)) isr=\(ids(isr)) high=\(high.map(\.description) ?? "-")"
        return offline.map { line + " offline=\($0)" } ?? line
    }

    /// `END METADATA`
    public static let endMetadata = "END METADATA"

    private static func ids(_ ids: [UInt64]) -> String { ids.isEmpty ? "-" : ids.map(String.init).joined(separator: ",") }
}
