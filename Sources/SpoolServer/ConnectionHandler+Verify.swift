import NIOCore
import SpoolCore
import SpoolEngine
import SpoolProtocol

/// `VERIFY <topic> [<partition>]`: each replica's checksum of its committed records.
extension ConnectionHandler {
    func verify(_ topic: TopicName, partition: PartitionID?, slot: Int, loop: EventLoop) {
        // Until replication is wired in, a partition has one replica, this broker's: the verdict
        // is about that file alone (every committed record readable, no offset missing). With
        // replicas, each one's checksum over the same from..<upto joins this line.
        let local = cluster.local.rawValue
        answer(slot, broker.verify(topic, partition: partition, on: loop)) { checks in
            var lines: [String] = checks.map { check in
                guard let sum = check.checksum else {
                    return ReplyLine.verifyOfflinePartition(topic, check.partition, reason: (check.offline ?? .damaged).rawValue)
                }
                return ReplyLine.verifyPartition(
                    topic, check.partition, from: check.from, upTo: check.upTo, records: sum.records, replicas: [(local, sum.hex)])
            }
            lines.append(ReplyLine.endVerify(topic, partitions: checks.count))
            return Reply.lines(lines)
        }
    }
}
