import NIOCore
import Raft
import SpoolCluster
import SpoolCore
import SpoolEngine
import SpoolProtocol

/// In a cluster, the requests this broker cannot answer from its own replicas go to a broker
/// that can, over the peer transport, and come back as the reply bytes its client would have had
/// there (docs/cluster.md, "Any broker accepts any command"). The slot keeps their place in the
/// connection's reply order.
extension ConnectionHandler {
    /// Sends a `PUB` to the broker that leads (or holds) its partition and answers the slot with
    /// what the leader answered. An acks=none record is answered at once, as on the leader.
    func forwardPublish(_ publish: PublishRequest, partition: PartitionID, to node: NodeID, slot: Int, loop: EventLoop) {
        let forwarded = ForwardedPublish(
            topic: publish.topic, partition: partition, key: publish.key.map { Array($0.readableBytesView) },
            value: Array(publish.value.readableBytesView), acks: publish.acks == .all ? .all : .leader, hops: 1)
        BrokerStats.add(broker.stats.recordsForwarded, 1)
        guard publish.acks != .none else {
            ForwardedClient.send(forwarded, to: node, router: broker.router, timeoutMs: limits.requestTimeoutMs) { _ in }
            completePublished(slot, publish.topic, partition, offset: nil)
            return
        }
        let bound = NIOLoopBound(self, eventLoop: loop)
        ForwardedClient.send(forwarded, to: node, router: broker.router, timeoutMs: limits.requestTimeoutMs) { result in
            loop.execute {
                switch result {
                case .appended(let offset): bound.value.completePublished(slot, publish.topic, partition, offset: offset)
                case .failed(let error): bound.value.fail(slot, error)
                case .rendered: bound.value.fail(slot, SpoolError(.unavailable, "broker n\(node.rawValue) answered the forwarded PUB with a read's reply"))
                }
            }
        }
    }

    /// The replica to ask for a read of a partition this broker holds none of; nil on a single
    /// broker, or when the partition is here (or does not exist: the local path says so).
    func remoteReplica(_ topic: TopicName, _ partition: PartitionID) -> NodeID? {
        guard cluster.voters.count > 1 else { return nil }
        return broker.replicaElsewhere(topic: topic, partition: partition)
    }

    /// Answers `slot` with what `node` renders for `read`. A long-polling FETCH waits there, so
    /// the request may take its wait on top of the request timeout.
    func forwardRead(_ read: ForwardedCommand, to node: NodeID, waitMs: Int64, slot: Int, loop: EventLoop) {
        let bound = NIOLoopBound(self, eventLoop: loop)
        ask(node, read, timeoutMs: limits.requestTimeoutMs + waitMs) { result in
            loop.execute {
                switch result {
                case .success(let bytes): bound.value.complete(slot, ByteBuffer(bytes: bytes))
                case .failure(let error): bound.value.fail(slot, error)
                }
            }
        }
    }

    /// Sends `command` to `node` and hears the rendered bytes or the error it answered.
    func ask(
        _ node: NodeID, _ command: ForwardedCommand, timeoutMs: Int64, _ finish: @escaping @Sendable (Result<[UInt8], SpoolError>) -> Void
    ) {
        ForwardedClient.send(command, to: node, router: broker.router, timeoutMs: timeoutMs) { result in
            switch result {
            case .rendered(let reply): finish(.success(reply))
            case .failed(let error): finish(.failure(error))
            case .appended: finish(.failure(SpoolError(.unavailable, "broker n\(node.rawValue) answered with bytes this broker cannot read")))
            }
        }
    }

    /// `DESCRIBE`: this broker's replicas from their files, the others' lines from a broker
    /// holding each, so that every broker gives the whole topic.
    func describeTopic(_ topic: TopicName, slot: Int, loop: EventLoop) {
        let described = broker.describe(topic, on: loop)
        guard cluster.voters.count > 1 else {
            answer(slot, described) { summary, partitions in
                Reply.lines(
                    [ReplyLine.describeTopic(summary.name, partitions: summary.partitions, replication: summary.replication)]
                        + ReadReplies.describeLines(topic, partitions) + [ReplyLine.endDescribe(topic)])
            }
            return
        }
        let broker = self.broker
        let limits = self.limits
        let bound = NIOLoopBound(self, eventLoop: loop)
        let future = described.flatMap { summary, partitions -> EventLoopFuture<[String]> in
            var lines = ReadReplies.describeLines(topic, partitions).enumerated().map { (Int(partitions[$0.offset].partition.rawValue), $0.element) }
            let held = Set(partitions.map(\.partition))
            var asks: [NodeID: [PartitionID]] = [:]
            for index in 0..<summary.partitions where !held.contains(PartitionID(Int32(index))) {
                let partition = PartitionID(Int32(index))
                guard let node = broker.replicaElsewhere(topic: topic, partition: partition) else { continue }
                asks[node, default: []].append(partition)
            }
            let answers = asks.map { node, wanted -> EventLoopFuture<[(Int, String)]> in
                let promise = loop.makePromise(of: [(Int, String)].self)
                bound.value.ask(node, .describe(topic: topic, partitions: wanted), timeoutMs: limits.requestTimeoutMs) { result in
                    switch result {
                    case .success(let bytes):
                        let text = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
                        let numbered = text.map { line in (Int(line.split(separator: " ").dropFirst(2).first ?? "") ?? -1, line) }
                        promise.succeed(numbered)
                    case .failure(let error):
                        let names = wanted.map { "\($0)" }.joined(separator: ",")
                        promise.fail(SpoolError(error.code, "partitions \(names) of \(topic): \(error.message)"))
                    }
                }
                return promise.futureResult
            }
            return EventLoopFuture.whenAllSucceed(answers, on: loop).map { remote in
                lines += remote.flatMap { $0 }
                let heading = ReplyLine.describeTopic(summary.name, partitions: summary.partitions, replication: summary.replication)
                return [heading] + lines.sorted { $0.0 < $1.0 }.map(\.1) + [ReplyLine.endDescribe(topic)]
            }
        }
        answer(slot, future) { Reply.lines($0) }
    }
}
