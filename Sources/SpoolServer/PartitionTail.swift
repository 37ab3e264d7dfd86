import NIOCore
import SpoolCore
import SpoolEngine
import SpoolProtocol

/// Pushes one partition's records to a subscribed connection, in offset order, as they arrive.
///
/// A loop on the connection's event loop: read a batch (on a storage thread), write it, and only
/// when the socket has taken it read the next; when caught up, wait for the partition's next
/// commit without polling. So at most one batch (`subscriptionBatchBytes`) per partition is in
/// the broker's memory for a client that stops reading.
final class PartitionTail {
    let topic: TopicName
    let partition: PartitionID
    private(set) var next: Offset
    /// The offset after the last record the socket has taken: what auto-commit commits.
    private(set) var delivered: Offset
    /// Where delivery started.
    let startOffset: Offset
    private weak var handler: ConnectionHandler?
    private let broker: Broker
    private let loop: EventLoop
    private let renderer: MessageRenderer
    private var wait: WaitToken?
    private(set) var active = true

    init(topic: TopicName, partition: PartitionID, from next: Offset, handler: ConnectionHandler, loop: EventLoop) {
        self.topic = topic
        self.partition = partition
        self.next = next
        self.delivered = next
        self.startOffset = next
        self.handler = handler
        self.broker = handler.broker
        self.loop = loop
        self.renderer = MessageRenderer(topic: topic, partition: partition)
    }

    func start() {
        pump()
    }

    func stop() {
        active = false
        if let wait {
            self.wait = nil
            broker.cancelWait(wait)
        }
    }

    private func pump() {
        guard active, handler != nil else { return }
        let bound = NIOLoopBound(self, eventLoop: loop)
        let renderer = self.renderer
        let records = broker.fetch(
            topic: topic, partition: partition, start: .offset(next), maxRecords: broker.config.limits.fetchRecords,
            maxBytes: broker.config.limits.subscriptionBatchBytes, waitMs: 0, on: loop
        ) { view, buffer in renderer.render(view, into: &buffer) }
        records.whenComplete { result in
            let tail = bound.value
            guard tail.active else { return }
            switch result {
            case .success(let batch) where batch.count > 0:
                tail.next = batch.next
                guard let written = tail.handler?.push(batch.buffer) else { return }
                written.whenComplete { result in
                    // Batches are written one at a time, in order: the last one taken is the position.
                    if case .success = result { bound.value.delivered = batch.next }
                    bound.value.pump()
                }
            case .success:
                tail.waitForRecords()
            case .failure(let error as SpoolError) where error.code == .offsetOutOfRange:
                // Our position is gone (the partition was recreated or trimmed): resume at the
                // earliest record still there, as Kafka's auto.offset.reset=earliest does.
                guard let earliest = try? tail.broker.startOffset(topic: tail.topic, partition: tail.partition, .earliest) else {
                    tail.active = false
                    return
                }
                tail.next = earliest
                tail.delivered = earliest
                tail.pump()
            case .failure(let error as SpoolError) where error.code == .unknownTopic:
                tail.ended()
            case .failure:
                // Broker stopping (the connection closes too), or this partition went offline.
                tail.active = false
            }
        }
    }

    private func waitForRecords() {
        let token: WaitToken
        let future: EventLoopFuture<Void>
        do {
            (token, future) = try broker.waitForRecords(topic: topic, partition: partition, after: next, on: loop)
        } catch {
            if error.code == .unknownTopic { ended() } else { active = false }
            return
        }
        wait = token
        let bound = NIOLoopBound(self, eventLoop: loop)
        future.whenComplete { _ in
            let tail = bound.value
            tail.wait = nil
            guard tail.active else { return }
            // The partition waited on, not the name: a topic dropped and created again is a new
            // topic, and this subscription was to the old one.
            switch tail.broker.unavailable(token) {
            case nil: tail.pump()
            case let error? where error.code == .unknownTopic: tail.ended()
            case _?: tail.active = false
            }
        }
    }

    /// The topic was dropped: the connection ends the whole subscription and says so.
    private func ended() {
        active = false
        handler?.subscriptionEnded(topic, by: self)
    }
}
