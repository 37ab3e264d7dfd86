import NIOCore
import SpoolCore
import SpoolStorage

extension Broker {
    /// Appends one record and returns its partition at once: `partition` when given, else
    /// murmur2 of the key (Kafka's default partitioner), else round-robin. With a `waiter` it
    /// hears `token` and the offset at `ackPoint`: once the record is fsynced (`.durable`,
    /// acks=leader) or committed (`.committed`, acks=all; on one replica both happen together),
    /// together with its other records of the same commit: one task per batch, nothing
    /// allocated per record. Without one (acks=none) nobody is told.
    /// When it throws, the record was not queued and the waiter hears nothing of it. The receipt
    /// says when the partition's queue is full (`queuedBytesPerPartition`, see `waitForRoom`).
    @discardableResult
    public func produce(
        topic name: TopicName, key: ByteBuffer?, partition: PartitionID?, value: ByteBuffer, waiter: (any AppendWaiter)?, token: Int = 0,
        ackPoint: AckPoint = .durable
    ) throws(SpoolError) -> ProduceReceipt {
        try checkRunning()
        let topic = try self.topic(name)
        if let key, key.readableBytes > config.limits.keyBytes {
            throw SpoolError(.badArgument, "key is \(key.readableBytes) bytes; the limit is \(config.limits.keyBytes)")
        }
        if value.readableBytes > config.limits.payloadBytes {
            throw SpoolError(.payloadTooLarge, "value is \(value.readableBytes) bytes; the limit is \(config.limits.payloadBytes)")
        }
        let id: PartitionID
        if let partition {
            id = partition
        } else if let key {
            id = key.withUnsafeReadableBytes { Partitioner.partition(forKey: $0, partitionCount: topic.partitionCount) }
        } else {
            id = topic.nextKeylessPartition()
        }
        let log = try topic.partition(id)
        BrokerStats.add(stats.recordsIn, 1)
        BrokerStats.add(stats.bytesIn, value.readableBytes)
        let completion: AppendCompletion
        switch (waiter, ackPoint) {
        case (nil, _): completion = .none
        case (let waiter?, .durable): completion = .durable(waiter, token: token)
        case (let waiter?, .committed): completion = .committed(waiter, token: token)
        }
        let full = try log.append(PendingAppend(key: key, value: value, completion: completion))
        return ProduceReceipt(partition: id, queueFull: full)
    }

    /// Reads records from `start`, rendered by `render` into one buffer. When `start` is the high
    /// watermark (`committed`: reads never see a record that is not committed) and `waitMs > 0`,
    /// waits (without polling) for a record or the time to pass.
    public func fetch(
        topic name: TopicName, partition: PartitionID, start: StartPosition, maxRecords: Int, maxBytes: Int? = nil,
        waitMs: Int64, on loop: EventLoop, render: @escaping RecordRenderer
    ) -> EventLoopFuture<FetchResult> {
        let log: PartitionLog
        let offset: Offset
        do {
            log = try self.topic(name).partition(partition)
            offset = try resolve(start, in: log)
        } catch {
            return loop.makeFailedFuture(error)
        }
        let maxRecords = min(max(1, maxRecords), config.limits.fetchRecords)
        let maxBytes = min(maxBytes ?? config.limits.fetchBytes, config.limits.fetchBytes)
        guard waitMs > 0, log.bounds.high == offset else {
            return read(log, from: offset, maxRecords: maxRecords, maxBytes: maxBytes, on: loop, render: render)
        }
        let (id, waited) = log.waitForRecords(after: offset, on: loop)
        let timeout = loop.scheduleTask(in: .milliseconds(min(waitMs, config.limits.fetchWaitMs))) {
            log.cancelWait(id)
        }
        return waited.flatMap {
            timeout.cancel()
            return self.read(log, from: offset, maxRecords: maxRecords, maxBytes: maxBytes, on: loop, render: render)
        }
    }

    /// Offsets where a read may start (and a group commit may point): `earliest ... high`.
    func resolve(_ start: StartPosition, in log: PartitionLog) throws(SpoolError) -> Offset {
        let (earliest, high) = log.bounds
        switch start {
        case .earliest: return earliest
        case .latest: return high
        case .offset(let offset):
            guard offset >= earliest, offset <= high else {
                throw SpoolError(.offsetOutOfRange, "offset \(offset) is outside \(earliest)...\(high) of \(log.topic)/\(log.id)")
            }
            return offset
        }
    }

    /// One read on a storage thread, bounded by the committed watermark taken when it starts.
    func read(
        _ log: PartitionLog, from offset: Offset, maxRecords: Int, maxBytes: Int, on loop: EventLoop,
        render: @escaping RecordRenderer
    ) -> EventLoopFuture<FetchResult> {
        let stats = self.stats
        return pool.runIfActive(eventLoop: loop) {
            // A long poll woken by a close answers why: dropped, or the broker stopping
            // (SHUTTING_DOWN), or the partition went offline.
            if let error = log.unavailableError { throw error }
            let high = log.bounds.high
            var buffer = ByteBufferAllocator().buffer(capacity: offset < high ? 64 * 1024 : 0)
            let count = try log.withReader { reader in
                try reader.read(from: offset, below: high, maxRecords: maxRecords, maxBytes: maxBytes) { view in
                    render(view, &buffer)
                }
            }
            BrokerStats.add(stats.recordsOut, count)
            BrokerStats.add(stats.bytesOut, buffer.readableBytes)
            return FetchResult(buffer: buffer, count: count, next: offset + Int64(count), high: high)
        }.flatMapErrorThrowing { throw wireError($0) }
    }

    /// The partition's bounds and, with `time`, the first offset at or after it.
    public func offsets(topic name: TopicName, partition: PartitionID, time: TimestampMs?, on loop: EventLoop) -> EventLoopFuture<OffsetsResult> {
        let log: PartitionLog
        do {
            log = try self.topic(name).partition(partition)
        } catch {
            return loop.makeFailedFuture(error)
        }
        let (earliest, high) = log.bounds
        guard let time else {
            return loop.makeSucceededFuture(OffsetsResult(earliest: earliest, latest: high, atTime: nil))
        }
        return pool.runIfActive(eventLoop: loop) {
            // The index on timestamp_ms answers this without a scan.
            let found = try log.withReader { try $0.firstOffset(atOrAfter: time) }
            let latest = log.bounds.high
            return OffsetsResult(earliest: earliest, latest: latest, atTime: min(found ?? latest, latest))
        }.flatMapErrorThrowing { throw wireError($0) }
    }

    /// Where a subscription `from=` position starts, now (`OFFSET_OUT_OF_RANGE` outside
    /// earliest...high).
    public func startOffset(topic name: TopicName, partition: PartitionID, _ start: StartPosition) throws(SpoolError) -> Offset {
        try resolve(start, in: try self.topic(name).partition(partition))
    }

    /// Completes when a record at or after `after` is visible, the wait is cancelled, or the
    /// partition closes (topic dropped, broker stopping).
    public func waitForRecords(topic name: TopicName, partition: PartitionID, after offset: Offset, on loop: EventLoop) throws(SpoolError)
        -> (WaitToken, EventLoopFuture<Void>)
    {
        let log = try self.topic(name).partition(partition)
        let (id, future) = log.waitForRecords(after: offset, on: loop)
        return (WaitToken(log: log, id: id), future)
    }

    public func cancelWait(_ token: WaitToken) {
        token.log.cancelWait(token.id)
    }

    /// True when the partition still exists and takes work.
    public func isOpen(topic name: TopicName, partition: PartitionID) -> Bool {
        guard let log = try? self.topic(name).partition(partition) else { return false }
        return log.unavailableError == nil
    }

    /// Why the partition a wait was on no longer serves (dropped, broker stopping, offline), or
    /// nil while it does. A topic dropped and created again is a new partition: a wait on the
    /// old one still reports it dropped.
    public func unavailable(_ token: WaitToken) -> SpoolError? {
        token.log.unavailableError
    }
}
