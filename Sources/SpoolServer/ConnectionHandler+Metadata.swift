import NIOCore
import SpoolCore
import SpoolEngine
import SpoolProtocol

/// `METADATA [<topic>]`: the brokers of the cluster and where each partition's replicas are.
extension ConnectionHandler {
    func describeCluster(_ topic: TopicName?, slot: Int, loop: EventLoop) {
        let cluster = self.cluster
        let brokerLines = cluster.brokers().map { ReplyLine.metadataBroker(id: $0.id.rawValue, address: $0.address, up: $0.up) }
        // Until replication is wired in, every partition is this broker's alone: it leads it,
        // holds its only replica, and its high watermark is the partition's next offset.
        let local = cluster.local.rawValue
        @Sendable func partitionLines(_ summary: TopicSummary, _ partitions: [PartitionSummary]) -> [String] {
            partitions.map { p in
                guard let reason = p.offline else {
                    return ReplyLine.metadataPartition(summary.name, p.partition, leader: local, replicas: [local], isr: [local], high: p.high)
                }
                return ReplyLine.metadataPartition(
                    summary.name, p.partition, leader: nil, replicas: [local], isr: [], high: nil, offline: reason.rawValue)
            }
        }
        let future: EventLoopFuture<[String]>
        if let topic {
            future = broker.describe(topic, on: loop).map { partitionLines($0.0, $0.1) }
        } else {
            // A topic dropped between the list and its describe is left out, as if listed after.
            let described = broker.listTopics().map { broker.describe($0.name, on: loop) }
            future = EventLoopFuture.whenAllComplete(described, on: loop).map { results in
                results.flatMap { result -> [String] in
                    guard case .success(let (summary, partitions)) = result else { return [] }
                    return partitionLines(summary, partitions)
                }
            }
        }
        answer(slot, future) { Reply.lines(brokerLines + $0 + [ReplyLine.endMetadata]) }
    }
}
