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

/// Who hears that a queued record was committed.
enum AppendCompletion: Sendable {
    /// acks=none: nobody.
    case none
    case waiter(any AppendWaiter, token: Int)
}
