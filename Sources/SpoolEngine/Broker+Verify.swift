import NIOCore
import SpoolCore

/// One partition replica's part of a `VERIFY`: the checksum of its records in `from..<upTo`, or
/// why it has none.
public struct PartitionChecksum: Sendable, Equatable {
    public var partition: PartitionID
    public var from: Offset
    public var upTo: Offset
    /// nil when the partition is out of service (`offline` says why).
    public var checksum: RecordChecksum?
    public var offline: OfflineReason?
}

/// A replica's range of committed records, or why it has none (`Broker.verifyBounds`).
public enum ReplicaBounds: Sendable, Equatable {
    case serving(earliest: Offset, high: Offset)
    case offline(OfflineReason)
}

extension Broker {
    /// Records a verification reads per storage-thread task. A large partition is checked in many
    /// short tasks so that the storage threads, which every partition's writes share, are never
    /// held for long (a million records is a hundred tasks, each a few milliseconds).
    static let verifyRecordsPerTask = 10_000

    /// The checksum of every partition of `name` (or only `partition`) over its committed records
    /// from the first retained offset to the high watermark (`committed`) as it was when the verification
    /// started (records appended meanwhile are not counted). Read on the storage threads.
    public func verify(_ name: TopicName, partition: PartitionID?, on loop: EventLoop) -> EventLoopFuture<[PartitionChecksum]> {
        let logs: [PartitionLog]
        do {
            let topic = try self.topic(name)
            if let partition {
                // Not `topic.partition(_:)`: an offline partition answers with its reason below.
                guard partition.rawValue >= 0, Int(partition.rawValue) < topic.partitionCount else {
                    throw SpoolError(.unknownPartition, "topic \(name) has partitions 0...\(topic.partitionCount - 1), not \(partition)")
                }
                logs = topic.local(partition).map { [$0] } ?? []
            } else {
                logs = topic.partitions
            }
        } catch let error as SpoolError {
            return loop.makeFailedFuture(error)
        } catch {
            return loop.makeFailedFuture(wireError(error))
        }
        // One partition after another: a topic's verification takes one storage thread at a time.
        var result = loop.makeSucceededFuture([PartitionChecksum]())
        for log in logs {
            result = result.flatMap { done in self.checksum(of: log, on: loop).map { done + [$0] } }
        }
        return result
    }

    private func checksum(of log: PartitionLog, on loop: EventLoop) -> EventLoopFuture<PartitionChecksum> {
        if let reason = log.offlineReason {
            return loop.makeSucceededFuture(PartitionChecksum(partition: log.id, from: .zero, upTo: .zero, offline: reason))
        }
        let (from, upTo) = log.bounds
        return checksum(of: log, from: from, upTo: upTo, on: loop)
    }

    /// This broker's replica of a partition for `VERIFY` across replicas: its first retained
    /// offset and high watermark, why it is out of service, or nil when it holds none.
    public func verifyBounds(_ name: TopicName, _ partition: PartitionID) -> ReplicaBounds? {
        guard let log = try? self.topic(name).local(partition) else { return nil }
        if let reason = log.offlineReason { return .offline(reason) }
        let (earliest, high) = log.bounds
        return .serving(earliest: earliest, high: high)
    }

    /// The checksum of this broker's replica over `from..<upTo`, a range every replica holds
    /// (the largest first retained offset and the smallest high watermark among them).
    /// `UNAVAILABLE` when this replica no longer (retention) or not yet (a follower behind)
    /// holds all of it.
    public func verifyChecksum(_ name: TopicName, _ partition: PartitionID, from: Offset, upTo: Offset, on loop: EventLoop)
        -> EventLoopFuture<PartitionChecksum>
    {
        guard let log = try? self.topic(name).local(partition) else {
            return loop.makeFailedFuture(SpoolError(.unavailable, "partition \(partition) of \(name) has no replica on this broker"))
        }
        if let reason = log.offlineReason {
            return loop.makeSucceededFuture(PartitionChecksum(partition: log.id, from: from, upTo: upTo, offline: reason))
        }
        let (earliest, high) = log.bounds
        guard earliest <= from, upTo <= high else {
            return loop.makeFailedFuture(
                SpoolError(.unavailable, "partition \(partition) of \(name): this replica holds \(earliest)..<\(high), not all of \(from)..<\(upTo)"))
        }
        return checksum(of: log, from: from, upTo: upTo, on: loop)
    }

    private func checksum(of log: PartitionLog, from: Offset, upTo: Offset, on loop: EventLoop) -> EventLoopFuture<PartitionChecksum> {
        let start = PartitionChecksum(partition: log.id, from: from, upTo: upTo, checksum: RecordChecksum())
        return continueChecksum(start, of: log, at: from, on: loop)
    }

    /// Adds the next `verifyRecordsPerTask` records at `next` and goes on in a new task until
    /// `upTo`. Offsets below the high watermark never change, so reading in separate transactions
    /// sees one consistent run of records.
    private func continueChecksum(
        _ partial: PartitionChecksum, of log: PartitionLog, at next: Offset, on loop: EventLoop
    ) -> EventLoopFuture<PartitionChecksum> {
        pool.runIfActive(eventLoop: loop) { () throws -> (PartitionChecksum, Offset) in
            if let error = log.unavailableError { throw error }
            var sum = partial.checksum ?? RecordChecksum()
            // A partition's records are gap-free below the high watermark: a missing row (an
            // offset skipped, or fewer rows than the range holds) is a damaged partition, which
            // the checksum must not hide.
            var expected = next
            var gap: Offset?
            let read = try log.withReader { reader in
                try reader.read(from: next, below: partial.upTo, maxRecords: Self.verifyRecordsPerTask, maxBytes: Int.max) { record in
                    if gap == nil && record.offset != expected { gap = expected }
                    expected = record.offset + 1
                    sum.add(record)
                }
            }
            if gap == nil && read < Self.verifyRecordsPerTask && expected < partial.upTo { gap = expected }
            if let gap {
                throw SpoolError(.storage, "partition \(log.id) of \(log.topic) has no record at offset \(gap) below its high watermark \(partial.upTo)")
            }
            var done = partial
            done.checksum = sum
            let reached = expected
            return (done, reached)
        }.flatMap { (done, reached) in
            reached >= done.upTo ? loop.makeSucceededFuture(done) : self.continueChecksum(done, of: log, at: reached, on: loop)
        }.flatMapErrorThrowing { throw wireError($0) }
    }
}
