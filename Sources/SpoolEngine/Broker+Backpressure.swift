import NIOCore
import SpoolCore

/// What `produce` tells its caller besides "queued".
public struct ProduceReceipt: Sendable, Equatable {
    /// The partition the record went to.
    public var partition: PartitionID
    /// The partition's queue reached `queuedBytesPerPartition` with this record: produce nothing
    /// more to it until `waitForRoom` completes (the server stops reading the producer's socket).
    public var queueFull: Bool
}

extension Broker {
    /// Completes once `partition`'s queue of records waiting for group commit is below
    /// `queuedBytesPerPartition` again, at once when it already is, or when the partition closes
    /// or is gone (the next `produce` then says why).
    public func waitForRoom(topic name: TopicName, partition: PartitionID, on loop: EventLoop) -> EventLoopFuture<Void> {
        guard let log = try? self.topic(name).partition(partition) else { return loop.makeSucceededVoidFuture() }
        return log.waitForRoom(on: loop)
    }
}
