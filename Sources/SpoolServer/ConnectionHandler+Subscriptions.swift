import NIOCore
import SpoolCore
import SpoolEngine
import SpoolProtocol

/// `SUB` and `UNSUB` without a group: tail every partition of a topic.
extension ConnectionHandler {
    func subscribe(_ topic: TopicName, from: StartPosition, slot: Int) {
        guard let loop = eventLoop else { return }
        do {
            if membership != nil {
                throw SpoolError(.badArgument, "this connection is a group member; UNSUB first, or use another connection")
            }
            if subscriptions[topic] != nil {
                throw SpoolError(.badArgument, "already subscribed to \(topic); UNSUB \(topic) first")
            }
            let count = try broker.partitionCount(topic)
            var tails: [any SubscriptionTail] = []
            for index in 0..<count {
                let partition = PartitionID(index)
                if remoteReplica(topic, partition) != nil {
                    // No replica here: read from a broker holding one.
                    tails.append(RemotePartitionTail(topic: topic, partition: partition, from: from, handler: self, loop: loop))
                    continue
                }
                // A partition out of service is left out; the topic's other partitions are pushed.
                guard let start = try startIfServing(topic, partition, from) else { continue }
                tails.append(PartitionTail(topic: topic, partition: partition, from: start, handler: self, loop: loop))
            }
            subscriptions[topic] = tails
            // The OK goes out before any pushed record of this subscription.
            afterReply[slot] = { for tail in tails where tail.active { tail.start() } }
            let remote = tails.compactMap { $0 as? RemotePartitionTail }
            guard case .latest = from, !remote.isEmpty else {
                complete(slot, line: ReplyLine.subscribed(topic, partitions: count, from: from))
                return
            }
            // `latest` is where the replicas elsewhere end now, asked before the OK.
            let bound = NIOLoopBound(self, eventLoop: loop)
            EventLoopFuture.andAllComplete(remote.map { $0.resolveStart() }, on: loop).whenComplete { _ in
                bound.value.complete(slot, line: ReplyLine.subscribed(topic, partitions: count, from: from))
            }
        } catch {
            fail(slot, wireError(error))
        }
    }

    /// Where a tail of `partition` starts, or nil when the partition is offline.
    private func startIfServing(_ topic: TopicName, _ partition: PartitionID, _ from: StartPosition) throws(SpoolError) -> Offset? {
        do {
            return try broker.startOffset(topic: topic, partition: partition, from)
        } catch {
            if error.code == .partitionOffline { return nil }
            throw error
        }
    }

    func unsubscribe(_ topic: TopicName?, slot: Int) {
        if let membership {
            // A member leaves its whole group (a partial unsubscribe would need a new join).
            if let topic, !membership.request.topics.contains(topic) {
                fail(slot, SpoolError(.badArgument, "not subscribed to \(topic)"))
                return
            }
            leaveGroup(commitDelivered: true)
            complete(slot, line: ReplyLine.unsubscribed(count: 1))
            return
        }
        if let topic {
            guard let tails = subscriptions.removeValue(forKey: topic) else {
                fail(slot, SpoolError(.badArgument, "not subscribed to \(topic)"))
                return
            }
            for tail in tails { tail.stop() }
            complete(slot, line: ReplyLine.unsubscribed(count: 1))
        } else {
            let count = subscriptions.count
            endAllSubscriptions()
            complete(slot, line: ReplyLine.unsubscribed(count: count))
        }
    }

    /// A tail found its topic dropped: the subscription ends with a pushed
    /// `UNSUBSCRIBED <topic> reason=dropped` (as a group member hears `REVOKED`), and FETCH works
    /// on this connection again once no subscription is left. Records of a topic created again
    /// under the name need a new `SUB`.
    func subscriptionEnded(_ topic: TopicName, by tail: any SubscriptionTail) {
        guard let tails = subscriptions[topic], tails.contains(where: { $0 === tail }) else { return }
        subscriptions.removeValue(forKey: topic)
        for tail in tails { tail.stop() }
        var line = ByteBuffer()
        line.writeLine(ReplyLine.subscriptionEnded(topic, reason: "dropped"))
        _ = push(line)
    }

    func endAllSubscriptions() {
        for tails in subscriptions.values {
            for tail in tails { tail.stop() }
        }
        subscriptions.removeAll()
    }
}
