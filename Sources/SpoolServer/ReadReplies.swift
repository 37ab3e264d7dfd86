import NIOCore
import SpoolCore
import SpoolEngine
import SpoolProtocol

/// The replies of the read commands, rendered the same way for a client of this broker and for
/// one of another broker that forwarded the read here (`ForwardedCommandServer`).
enum ReadReplies {
    /// The `PARTITION` lines of `DESCRIBE`, one per partition summary.
    static func describeLines(_ topic: TopicName, _ partitions: [PartitionSummary]) -> [String] {
        partitions.map { p in
            if let reason = p.offline {
                return ReplyLine.describeOfflinePartition(topic, p.partition, reason: reason.rawValue, bytes: p.diskBytes)
            }
            return ReplyLine.describePartition(topic, p.partition, low: p.earliest, high: p.high, records: p.records, bytes: p.diskBytes)
        }
    }

    /// The `OFFSETS` reply line.
    static func offsetsLine(_ topic: TopicName, _ partition: PartitionID, _ result: OffsetsResult, time: TimestampMs?) -> String {
        ReplyLine.offsets(
            topic, partition, earliest: result.earliest, latest: result.latest, time: time.map { ($0, result.atTime ?? result.latest) })
    }

    /// The whole `FETCH` reply: the records' MSG blocks, then the END line.
    static func fetchReply(_ result: FetchResult, _ topic: TopicName, _ partition: PartitionID) -> ByteBuffer {
        var buffer = result.buffer
        buffer.writeLine(ReplyLine.endFetch(topic, partition, next: result.next, high: result.high))
        return buffer
    }
}
