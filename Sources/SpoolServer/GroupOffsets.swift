import NIOCore
import Raft
import SpoolCluster
import SpoolCore
import SpoolEngine

/// Where a group's offsets are written and read in a cluster: at the partition's leader, which
/// proposes a commit as an entry of the partition's own Raft log (applied into `consumer_offsets`
/// on every replica once committed) and answers reads from what it has applied. On a single
/// broker both are local, as before.
enum GroupOffsets {
    /// Stores `nextOffset` for `group` in `partition`; succeeds once committed on a majority.
    static func commit(
        _ broker: Broker, _ topic: TopicName, _ partition: PartitionID, group: GroupName, nextOffset: Offset, generation: Int64, member: String,
        hops: UInt8 = 1, on loop: EventLoop
    ) -> EventLoopFuture<Void> {
        switch route(broker, topic, partition) {
        case .failure(let error):
            return loop.makeFailedFuture(error)
        case .success(.local):
            return broker.commitOffset(
                topic: topic, partition: partition, group: group.value, nextOffset: nextOffset, generation: generation, member: member, on: loop)
        case .success(.forward(_, let node)) where hops > 0:
            let command = ForwardedCommand.commitOffset(
                ForwardedOffsetCommit(
                    topic: topic, partition: partition, group: group, nextOffset: nextOffset, generation: generation, member: member, hops: hops - 1))
            return ask(broker, command, node, topic, partition, on: loop).flatMapThrowing { result in
                switch result {
                case .appended: return
                case .failed(let error): throw error
                case .rendered: throw SpoolError(.unavailable, "broker n\(node.rawValue) answered a forwarded COMMIT with bytes this broker cannot read")
                }
            }
        case .success(.forward(_, let node)):
            return loop.makeFailedFuture(
                SpoolError(.unavailable, "partition \(partition) of \(topic): not the leader (leader n\(node.rawValue)); the commit was not stored"))
        }
    }

    /// The group's committed offset in `partition` as its leader has applied it (nil: none).
    /// Fails `UNAVAILABLE` while the partition has no leader that can answer for sure.
    static func committed(_ broker: Broker, _ topic: TopicName, _ partition: PartitionID, group: GroupName, on loop: EventLoop) -> EventLoopFuture<Offset?> {
        switch route(broker, topic, partition) {
        case .failure(let error):
            return loop.makeFailedFuture(error)
        case .success(.local):
            return broker.leaderCommittedOffset(topic: topic, partition: partition, group: group.value, on: loop)
        case .success(.forward(_, let node)):
            return ask(broker, .committedOffset(topic: topic, partition: partition, group: group), node, topic, partition, on: loop)
                .flatMapThrowing { result -> Offset? in
                    switch result {
                    case .rendered(let bytes):
                        let text = String(decoding: bytes, as: UTF8.self)
                        if text == "-" { return nil }
                        guard let value = Int64(text), value >= 0 else {
                            throw SpoolError(.unavailable, "broker n\(node.rawValue) answered a committed offset this broker cannot read")
                        }
                        return Offset(value)
                    case .failed(let error): throw error
                    case .appended: throw SpoolError(.unavailable, "broker n\(node.rawValue) answered a committed offset this broker cannot read")
                    }
                }
        }
    }

    /// A group's lag in every partition of `topic`: this broker's replicas, and the others asked
    /// of a broker holding each (one request per broker). A partition no replica could answer
    /// for is left out, as an offline one is.
    static func lag(_ broker: Broker, _ topic: TopicName, group: GroupName, live: Bool, on loop: EventLoop) -> EventLoopFuture<[PartitionLag]> {
        broker.lag(topic: topic, group: group.value, live: live, on: loop).flatMap { local in
            let here = Set(local.map(\.partition))
            let count = (try? broker.partitionCount(topic)) ?? 0
            var elsewhere: [NodeID: [PartitionID]] = [:]
            for index in 0..<count where !here.contains(PartitionID(Int32(index))) {
                let partition = PartitionID(Int32(index))
                if let node = broker.replicaElsewhere(topic: topic, partition: partition) { elsewhere[node, default: []].append(partition) }
            }
            let asked = elsewhere.sorted { $0.key < $1.key }.map { node, partitions in
                ask(broker, .lag(topic: topic, group: group, live: live, partitions: partitions), node, topic, partitions[0], on: loop).map { result in
                    guard case .rendered(let bytes) = result else { return [PartitionLag]() }
                    return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap(Self.parseLag)
                }
            }
            return EventLoopFuture.whenAllSucceed(asked, on: loop).map { remote in
                (local + remote.flatMap { $0 }).sorted { $0.partition < $1.partition }
            }
        }
    }

    /// `<p> <committed|-> <end> <lag> <lag_ms>` and a newline.
    static func lagLine(_ lag: PartitionLag) -> String {
        "\(lag.partition.rawValue) \(lag.committed.map { "\($0.rawValue)" } ?? "-") \(lag.end.rawValue) \(lag.lagRecords) \(lag.lagMs)\n"
    }

    static func parseLag(_ line: Substring) -> PartitionLag? {
        let words = line.split(separator: " ")
        guard words.count == 5, let partition = Int32(words[0]), let end = Int64(words[2]), let lag = Int64(words[3]), let ms = Int64(words[4]) else {
            return nil
        }
        let committed: Offset? = words[1] == "-" ? nil : Int64(words[1]).map { Offset($0) }
        return PartitionLag(partition: PartitionID(partition), committed: committed, end: Offset(end), lagRecords: lag, lagMs: ms)
    }

    private static func route(_ broker: Broker, _ topic: TopicName, _ partition: PartitionID) -> Result<PublishRoute, SpoolError> {
        Result { () throws(SpoolError) in try broker.commitRoute(topic: topic, partition: partition) }
    }

    private static func ask(
        _ broker: Broker, _ command: ForwardedCommand, _ node: NodeID, _ topic: TopicName, _ partition: PartitionID, on loop: EventLoop
    ) -> EventLoopFuture<ForwardedResult> {
        let promise = loop.makePromise(of: ForwardedResult.self)
        let writes: Bool
        if case .commitOffset = command { writes = true } else { writes = false }
        ForwardedClient.send(
            command, to: node, router: broker.router, timeoutMs: broker.config.limits.requestTimeoutMs, about: "partition \(partition) of \(topic)",
            unknownOutcome: writes ? "; the commit may or may not be stored" : "", promise.succeed)
        return promise.futureResult
    }
}
