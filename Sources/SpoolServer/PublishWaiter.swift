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
        for token in tokens {
            if let bytes = Self.noAckBytes(token) {
                handler.releaseQueued(bytes)
            } else {
                handler.fail(token, error)
            }
        }
    }

    /// The token of an acks=none record of `bytes`: already answered, it is queued with this
    /// waiter only so that the connection hears when its bytes leave the queue
    /// (`queuedBytesPerConnection`). Reply slots are never negative, so the two cannot mix.
    static func noAckToken(bytes: Int) -> Int { -1 - bytes }

    /// The byte count of an acks=none token, nil for a reply slot.
    static func noAckBytes(_ token: Int) -> Int? { token < 0 ? -1 - token : nil }
}
