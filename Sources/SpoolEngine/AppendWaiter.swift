import NIOCore
import SpoolCore

/// Hears about committed records without a promise per record: the server's hot path. The engine
/// completes a whole group commit's records for one waiter with one task on its event loop.
public protocol AppendWaiter: AnyObject, Sendable {
    /// The loop the callbacks run on.
    var eventLoop: EventLoop { get }
    /// The records of one commit of `topic`/`partition` that this waiter queued: (token, offset),
    /// in offset order. Runs on `eventLoop`.
    func appended(topic: TopicName, partition: PartitionID, _ results: [(token: Int, offset: Offset)])
    /// Records that were not written (storage error, topic dropped). Runs on `eventLoop`.
    func appendFailed(tokens: [Int], error: SpoolError)
}

/// When a producer hears that its record is written.
public enum AckPoint: Sendable, Equatable {
    /// acks=leader: once the record is fsynced on this broker (its batch is durable).
    case durable
    /// acks=all: once the record is committed (on one broker, at the same time as durable; with
    /// replication, when a majority has it).
    case committed
}

/// Who hears that a queued record was written, and when.
enum AppendCompletion: Sendable {
    /// acks=none: nobody.
    case none
    /// acks=leader: told when the record's batch is durable.
    case durable(any AppendWaiter, token: Int)
    /// acks=all: told when the record's batch is committed.
    case committed(any AppendWaiter, token: Int)
}
