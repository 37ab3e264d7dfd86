import NIOCore
import Raft
import SpoolCluster
import SpoolCore
import SpoolEngine
import SpoolProtocol

/// `VERIFY <topic> [<partition>]`: each replica's checksum of its committed records.
extension ConnectionHandler {
    func verify(_ topic: TopicName, partition: PartitionID?, slot: Int, loop: EventLoop) {
        if cluster.voters.count > 1 { return verifyReplicas(topic, partition: partition, slot: slot, loop: loop) }
        // A single broker holds each partition's only replica: the verdict is about that file
        // alone (every committed record readable, no offset missing).
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

    /// In a cluster: for each partition, every replica (here or over the peer connection) says
    /// which committed records it holds; each then checksums the range all of them hold (the
    /// largest first retained offset to the smallest high watermark), and the line compares the
    /// sums. A replica that is down, out of service, or cannot read the whole range is
    /// `unverified`. Partitions are checked one after another.
    private func verifyReplicas(_ topic: TopicName, partition: PartitionID?, slot: Int, loop: EventLoop) {
        let placement: [[NodeID]]
        do {
            placement = try broker.replicaPlacement(topic)
        } catch {
            return fail(slot, error)
        }
        if let partition, partition.rawValue < 0 || Int(partition.rawValue) >= placement.count {
            return fail(slot, SpoolError(.unknownPartition, "topic \(topic) has partitions 0...\(placement.count - 1), not \(partition)"))
        }
        let wanted = partition.map { [$0] } ?? (0..<placement.count).map { PartitionID(Int32($0)) }
        let bound = NIOLoopBound(self, eventLoop: loop)
        var lines = loop.makeSucceededFuture([String]())
        for id in wanted {
            lines = lines.flatMap { done in
                bound.value.verifyLine(topic, id, replicas: placement[Int(id.rawValue)], loop: loop).map { done + [$0] }
            }
        }
        answer(slot, lines) { Reply.lines($0 + [ReplyLine.endVerify(topic, partitions: wanted.count)]) }
    }

    private func verifyLine(_ topic: TopicName, _ partition: PartitionID, replicas: [NodeID], loop: EventLoop) -> EventLoopFuture<String> {
        let bound = NIOLoopBound(self, eventLoop: loop)
        let asked = replicas.map { bounds(of: $0, topic, partition, loop: loop) }
        return EventLoopFuture.whenAllSucceed(asked, on: loop).flatMap { answers -> EventLoopFuture<String> in
            let serving: [(NodeID, Offset, Offset)] = zip(replicas, answers).compactMap { node, answer in
                guard case .serving(let earliest, let high)? = answer else { return nil }
                return (node, earliest, high)
            }
            guard let from = serving.map(\.1).max(), let upTo = serving.map(\.2).min(), from <= upTo else {
                if case .offline(let reason)? = answers[replicas.firstIndex(of: bound.value.cluster.local) ?? 0], serving.isEmpty {
                    return loop.makeSucceededFuture(ReplyLine.verifyOfflinePartition(topic, partition, reason: reason.rawValue))
                }
                return loop.makeSucceededFuture(
                    ReplyLine.verifyPartition(
                        topic, partition, from: .zero, upTo: .zero, records: 0, replicas: replicas.map { ($0.rawValue, nil) }))
            }
            let sums = replicas.map { node -> EventLoopFuture<(records: Int64, hex: String)?> in
                guard serving.contains(where: { $0.0 == node }) else { return loop.makeSucceededFuture(nil) }
                return bound.value.sum(of: node, topic, partition, from: from, upTo: upTo, loop: loop)
            }
            return EventLoopFuture.whenAllSucceed(sums, on: loop).map { results in
                let records = results.compactMap { $0?.records }.first ?? 0
                return ReplyLine.verifyPartition(
                    topic, partition, from: from, upTo: upTo, records: records,
                    replicas: zip(replicas, results).map { ($0.rawValue, $1?.hex) })
            }
        }
    }

    /// A replica's committed range; nil when it cannot be asked.
    private func bounds(of node: NodeID, _ topic: TopicName, _ partition: PartitionID, loop: EventLoop) -> EventLoopFuture<ReplicaBounds?> {
        if node == cluster.local { return loop.makeSucceededFuture(broker.verifyBounds(topic, partition)) }
        let promise = loop.makePromise(of: ReplicaBounds?.self)
        ask(node, .verifyBounds(topic: topic, partition: partition), timeoutMs: limits.requestTimeoutMs) { result in
            guard case .success(let bytes) = result else { return promise.succeed(nil) }
            let words = String(decoding: bytes, as: UTF8.self).split(separator: " ")
            if words.count == 1, words[0].hasPrefix("offline="), let reason = OfflineReason(rawValue: String(words[0].dropFirst(8))) {
                return promise.succeed(.offline(reason))
            }
            guard words.count == 2, let earliest = Int64(words[0]), let high = Int64(words[1]) else { return promise.succeed(nil) }
            promise.succeed(.serving(earliest: Offset(earliest), high: Offset(high)))
        }
        return promise.futureResult
    }

    /// A replica's checksum of `from..<upTo`; nil when it has none to give.
    private func sum(of node: NodeID, _ topic: TopicName, _ partition: PartitionID, from: Offset, upTo: Offset, loop: EventLoop)
        -> EventLoopFuture<(records: Int64, hex: String)?>
    {
        if node == cluster.local {
            return broker.verifyChecksum(topic, partition, from: from, upTo: upTo, on: loop)
                .map { check in check.checksum.map { ($0.records, $0.hex) } }
                .recover { _ in nil }
        }
        let promise = loop.makePromise(of: (records: Int64, hex: String)?.self)
        ask(node, .verifyChecksum(topic: topic, partition: partition, from: from, upTo: upTo), timeoutMs: limits.requestTimeoutMs) {
            result in
            guard case .success(let bytes) = result else { return promise.succeed(nil) }
            let words = String(decoding: bytes, as: UTF8.self).split(separator: " ")
            guard words.count == 2, let records = Int64(words[0]) else { return promise.succeed(nil) }
            promise.succeed((records, String(words[1])))
        }
        return promise.futureResult
    }
}
