import NIOCore
import SpoolCore
import SpoolEngine

/// A connection's `AppendWaiter`: the engine answers a whole group commit's `PUB`s of this
/// connection in one task, and the reply slots are the tokens. One per connection, made once.
final class PublishWaiter: AppendWaiter, @unchecked Sendable {
    let eventLoop: EventLoop
    /// Weak: the handler owns the waiter, and queued records must not keep a closed connection.
    /// Read and written only on `eventLoop`.
    private weak var handler: ConnectionHandler?

    init(handler: ConnectionHandler, eventLoop: EventLoop) {
        self.eventLoop = eventLoop
        self.handler = handler
    }

    func appended(topic: TopicName, partition: PartitionID, _ results: [(token: Int, offset: Offset)]) {
        eventLoop.preconditionInEventLoop()
        handler?.completePublished(topic, partition, results)
    }

    func appendFailed(tokens: [Int], error: SpoolError) {
        eventLoop.preconditionInEventLoop()
        guard let handler else { return }
        for slot in tokens { handler.fail(slot, error) }
    }
}
