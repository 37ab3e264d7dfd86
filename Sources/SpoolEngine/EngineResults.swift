import NIOCore
import SpoolCore

/// A topic's name and shape.
public struct TopicSummary: Sendable, Equatable {
    public var name: TopicName
    public var partitions: Int
    public var replication: Int
    /// Partitions out of service (their file lost or damaged).
    public var offlinePartitions: Int = 0
}

/// One partition as `DESCRIBE` shows it.
public struct PartitionSummary: Sendable, Equatable {
    public var partition: PartitionID
    /// The first retained offset.
    public var earliest: Offset
    /// The high watermark: the first offset not yet committed (on one broker, the next to be written).
    public var high: Offset
    public var records: Int64
    /// Bytes of the partition's files on disk (database and WAL).
    public var diskBytes: Int64
    /// Why the partition is out of service; nil while it serves.
    public var offline: OfflineReason? = nil
}

/// Records read by a fetch, already rendered into `buffer` by the caller's renderer.
public struct FetchResult: Sendable {
    public var buffer: ByteBuffer
    public var count: Int
    /// The offset to fetch next.
    public var next: Offset
    /// The high watermark (`committed`) when the read ran.
    public var high: Offset
}

/// `OFFSETS` answer: the bounds and, when asked, the first offset at or after a time.
public struct OffsetsResult: Sendable, Equatable {
    public var earliest: Offset
    public var latest: Offset
    /// The first offset whose timestamp is at or after the asked time, or `latest` when none is.
    public var atTime: Offset?
}

/// Renders one record into the fetch buffer (the server's wire format). Runs on a storage thread.
public typealias RecordRenderer = @Sendable (RecordView, inout ByteBuffer) -> Void

/// A pending wait for new records, to cancel with `Broker.cancelWait`.
public struct WaitToken: Sendable {
    let log: PartitionLog
    let id: Int
}
