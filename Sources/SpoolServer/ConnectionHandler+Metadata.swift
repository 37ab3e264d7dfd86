import NIOCore
import Raft
import SpoolCluster
import SpoolCore
import SpoolEngine
import SpoolProtocol

/// `METADATA [<topic>]`: the brokers of the cluster and where each partition's replicas are.
extension ConnectionHandler {
    func describeCluster(_ topic: TopicName?, slot: Int, loop: EventLoop) {
        let cluster = self.cluster
        let brokers = cluster.brokers()
        let brokerLines = brokers.map { ReplyLine.metadataBroker(id: $0.id.rawValue, address: $0.address, up: $0.up) }
        if cluster.voters.count > 1 {
            let others = brokers.filter { $0.up && $0.id != cluster.local }.map(\.id)
            return describeReplicated(topic, brokerLines: brokerLines, askingAlso: others, slot: slot, loop: loop)
        }
        // A single broker leads every partition, holds its only replica, and its high watermark is
        // the partition's next offset.
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

    /// METADATA in a cluster: the placement from the metadata group, and what each partition's
    /// leader says of it (its in-sync replicas and high watermark), asked of every broker that is
    /// up; when two claim a partition (an old leader that has not heard of the new term yet) the
    /// higher term wins. A partition no reachable broker leads shows `leader=- isr=-` and the high
    /// watermark this broker's replica knows (`-` without one).
    private func describeReplicated(_ topic: TopicName?, brokerLines: [String], askingAlso others: [NodeID], slot: Int, loop: EventLoop) {
        let names: [TopicName]
        if let topic {
            names = [topic]
        } else {
            names = broker.listTopics().map(\.name)
        }
        var placements: [(TopicName, [[NodeID]])] = []
        for name in names {
            do {
                placements.append((name, try broker.replicaPlacement(name)))
            } catch {
                if topic != nil { return fail(slot, error) }  // a listed topic dropped since is left out
            }
        }
        let broker = self.broker
        let limits = self.limits
        let local = broker.leaderStates(topic: topic)
        let asked = others.map { node -> EventLoopFuture<[LeaderState]> in
            let promise = loop.makePromise(of: [LeaderState].self)
            broker.router.request(.command, ForwardedCommand.leaderStates(topic: topic).payload, to: node, timeoutMs: min(limits.requestTimeoutMs, 2_000)) {
                result in
                guard case .success(let bytes) = result else { return promise.succeed([]) }
                promise.succeed(LeaderState.states(payload: bytes, limits: limits) ?? [])
            }
            return promise.futureResult
        }
        let future = EventLoopFuture.whenAllSucceed(asked, on: loop).map { answers -> [String] in
            var leaders: [String: LeaderState] = [:]
            for state in local + answers.flatMap({ $0 }) {
                let key = "\(state.topic) \(state.partition)"
                if let known = leaders[key], known.term >= state.term { continue }
                leaders[key] = state
            }
            var lines: [String] = []
            for (name, replicas) in placements {
                for (index, voters) in replicas.enumerated() {
                    let partition = PartitionID(Int32(index))
                    let ids = voters.map(\.rawValue)
                    if let state = leaders["\(name) \(partition)"] {
                        lines.append(
                            ReplyLine.metadataPartition(
                                name, partition, leader: state.leader.rawValue, replicas: ids, isr: state.inSync.map(\.rawValue).sorted(), high: state.high))
                    } else {
                        let high = broker.localReplicaView(name, partition)?.high
                        lines.append(ReplyLine.metadataPartition(name, partition, leader: nil, replicas: ids, isr: [], high: high))
                    }
                }
            }
            return lines
        }
        answer(slot, future) { Reply.lines(brokerLines + $0 + [ReplyLine.endMetadata]) }
    }
}
