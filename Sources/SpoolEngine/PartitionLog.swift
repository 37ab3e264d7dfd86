import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SpoolCore
import SpoolStorage

/// One partition of a topic on this broker: its queue of pending appends, its group-commit flush
/// loop, its high watermark and the consumers waiting for new records.
///
/// Group commit: producers only enqueue. While anything is queued, one flush loop runs on a
/// storage thread and repeatedly takes *everything* queued (up to the batch limits) into one
/// SQLite transaction and one fsync. The more producers wait, the bigger the batches, so the
/// fsync cost is shared. The store is touched only by that loop (the `flushing` flag makes it the
/// serial owner); SQLite never runs on an event loop.
final class PartitionLog: Sendable {
    let topic: TopicName
    let id: PartitionID
    let path: String
    let readers: ReaderPool
    private let store: PartitionStore
    private let pool: NIOThreadPool
    private let limits: SpoolLimits
    private let logger: Logger
    private let state: NIOLockedValueBox<State>

    struct Waiter {
        var after: Offset
        var promise: EventLoopPromise<Void>
    }

    struct PendingCommit {
        var commit: OffsetCommit
        var promise: EventLoopPromise<Void>
    }

    private struct State {
        var pending: [PendingAppend] = []
        var pendingCommits: [PendingCommit] = []
        var flushing = false
        /// The next offset to be written; records below it are durable and visible.
        var high: Offset
        var earliest: Offset
        var waiters: [Int: Waiter] = [:]
        var nextWaiterID = 0
        var closing: CloseReason?
        var closed: EventLoopPromise<Void>?
        /// Record bytes in `pending` (not yet taken into a transaction), bounded by
        /// `queuedBytesPerPartition`: producers that find it full wait in `roomWaiters`.
        var queuedBytes = 0
        var roomWaiters: [EventLoopPromise<Void>] = []
    }

    enum CloseReason {
        /// Broker shutdown: finish what is queued, then close.
        case shutdown
        /// Topic dropped: fail what is queued.
        case dropped
    }

    /// Opens (or creates) the partition's database. Call on a storage thread.
    init(topic: TopicName, id: PartitionID, path: String, pool: NIOThreadPool, limits: SpoolLimits, logger: Logger) throws {
        self.topic = topic
        self.id = id
        self.path = path
        self.pool = pool
        self.limits = limits
        self.logger = logger
        self.store = try PartitionStore(path: path)
        self.readers = ReaderPool(path: path)
        self.state = NIOLockedValueBox(State(high: store.nextOffset, earliest: store.earliestOffset))
    }

    /// The offsets of the first retained record and of the next record to be written.
    var bounds: (earliest: Offset, high: Offset) {
        state.withLockedValue { ($0.earliest, $0.high) }
    }

    // MARK: Appending

    /// Queues a record for the next group commit. Its `completion` hears the offset once the
    /// record is fsynced, or the `SpoolError` it failed with. Returns true when the queue is now
    /// at `queuedBytesPerPartition` or past it: the record is queued all the same (it is in
    /// memory already), and the caller should produce nothing more to this partition until
    /// `waitForRoom` completes.
    func append(_ record: PendingAppend) throws(SpoolError) -> Bool {
        try enqueue(bytes: record.byteCount) { $0.pending.append(record) }
    }

    /// Queues a consumer-group commit for the next group commit: it is written in the same
    /// transaction (and fsync) as the records queued with it. Throws (and leaves `promise` to the
    /// caller) when the log is closing.
    func commit(_ commit: OffsetCommit, promise: EventLoopPromise<Void>) throws(SpoolError) {
        _ = try enqueue(bytes: 0) { $0.pendingCommits.append(PendingCommit(commit: commit, promise: promise)) }
    }

    /// Adds work to the queue and starts the flush loop when it is not running. Returns true when
    /// the queued bytes are at their bound.
    private func enqueue(bytes: Int, _ add: (inout State) -> Void) throws(SpoolError) -> Bool {
        let outcome: Result<(start: Bool, full: Bool), SpoolError> = state.withLockedValue { state in
            if let reason = state.closing { return .failure(closedError(reason)) }
            add(&state)
            state.queuedBytes += bytes
            let full = state.queuedBytes >= limits.queuedBytesPerPartition
            guard !state.flushing else { return .success((false, full)) }
            state.flushing = true
            return .success((true, full))
        }
        let (start, full) = try outcome.get()
        if start {
            pool.submit { _ in self.flushLoop() }
        }
        return full
    }

    /// Completes once the queue is below `queuedBytesPerPartition` (at once when it is), or the
    /// log closes (then the next append says why).
    func waitForRoom(on loop: EventLoop) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        let waiting = state.withLockedValue { state in
            guard state.queuedBytes >= limits.queuedBytesPerPartition, state.closing == nil else { return false }
            state.roomWaiters.append(promise)
            return true
        }
        if !waiting { promise.succeed() }
        return promise.futureResult
    }

    /// Producers waiting for room, once the queue is below its bound again (or empty for good).
    private static func takeRoomWaiters(_ state: inout State, bound: Int) -> [EventLoopPromise<Void>] {
        guard !state.roomWaiters.isEmpty, state.queuedBytes < bound || state.closing != nil else { return [] }
        defer { state.roomWaiters = [] }
        return state.roomWaiters
    }

    /// What work sent to a closing log fails with.
    private func closedError(_ reason: CloseReason) -> SpoolError {
        switch reason {
        case .dropped: SpoolError(.unknownTopic, "topic \(topic) was dropped")
        case .shutdown: SpoolError(.shuttingDown, "the broker is shutting down")
        }
    }

    /// Runs on a storage thread while records are queued; exactly one instance per partition.
    private func flushLoop() {
        while let (batch, commits) = takeBatch() {
            let result: Result<Offset, StorageError>
            do {
                result = .success(
                    try store.append(batch, commits: commits.map(\.commit), timestamp: TimestampMs(WallClock.nowMs())))
            } catch {
                result = .failure(error)
            }
            switch result {
            case .success(let first):
                let woken = state.withLockedValue { state -> [Waiter] in
                    state.high = store.nextOffset
                    return Self.takeWaiters(&state, below: state.high)
                }
                Self.complete(batch, first: first, topic: topic, partition: id)
                for commit in commits { commit.promise.succeed() }
                for waiter in woken { waiter.promise.succeed() }
            case .failure(let error):
                logger.error(
                    "append failed",
                    metadata: ["topic": "\(topic)", "partition.id": "\(id)", "error": "\(error)"])
                let spoolError = SpoolError(.storage, "write failed: \(error.message)")
                Self.fail(batch, spoolError)
                for commit in commits { commit.promise.fail(spoolError) }
            }
        }
    }

    /// Takes the next batch, or ends the loop (and finishes a pending close) when none is queued.
    private func takeBatch() -> ([PendingAppend], [PendingCommit])? {
        typealias Taken = (batch: [PendingAppend]?, commits: [PendingCommit], closed: EventLoopPromise<Void>?, failed: [PendingAppend], failedCommits: [PendingCommit])
        var room: [EventLoopPromise<Void>] = []
        defer { for waiter in room { waiter.succeed() } }
        let taken: Taken = state.withLockedValue { state in
            if state.closing == .dropped {
                state.queuedBytes = 0
                room = Self.takeRoomWaiters(&state, bound: limits.queuedBytesPerPartition)
                let failed = state.pending
                let failedCommits = state.pendingCommits
                state.pending = []
                state.pendingCommits = []
                state.flushing = false
                return (nil, [], state.closed, failed, failedCommits)
            }
            let commits = state.pendingCommits
            state.pendingCommits = []
            guard !state.pending.isEmpty || !commits.isEmpty else {
                state.flushing = false
                return (nil, [], state.closing == nil ? nil : state.closed, [], [])
            }
            var count = 0
            var bytes = 0
            for record in state.pending {
                if count > 0 && (count >= limits.commitBatchRecords || bytes + record.byteCount > limits.commitBatchBytes) { break }
                count += 1
                bytes += record.byteCount
            }
            state.queuedBytes -= bytes
            room = Self.takeRoomWaiters(&state, bound: limits.queuedBytesPerPartition)
            if count == state.pending.count {
                let batch = state.pending
                state.pending = []
                state.pending.reserveCapacity(batch.count)
                return (batch, commits, nil, [], [])
            }
            let batch = Array(state.pending[..<count])
            state.pending.removeFirst(count)
            return (batch, commits, nil, [], [])
        }
        let dropped = closedError(.dropped)
        Self.fail(taken.failed, dropped)
        for commit in taken.failedCommits { commit.promise.fail(dropped) }
        if let closed = taken.closed { finishClose(closed) }
        return taken.batch.map { ($0, taken.commits) }
    }

    /// Tells everyone waiting on a committed batch: one task per event loop with the results of
    /// each of its connections, never one per record, and no allocation per record
    /// (`WaiterGroups`).
    private static func complete(_ batch: [PendingAppend], first: Offset, topic: TopicName, partition: PartitionID) {
        var byWaiter = WaiterGroups<any AppendWaiter, (token: Int, offset: Offset)>()
        for index in batch.indices {
            guard case .waiter(let waiter, let token) = batch[index].completion else { continue }
            byWaiter.add((token, first + Int64(index)), for: waiter, id: ObjectIdentifier(waiter))
        }
        // One task per event loop, not per connection: fewer cross-thread wake-ups.
        var byLoop = WaiterGroups<any EventLoop, (waiter: any AppendWaiter, results: [(token: Int, offset: Offset)])>()
        for (waiter, results) in byWaiter.groups {
            byLoop.add((waiter, results), for: waiter.eventLoop, id: ObjectIdentifier(waiter.eventLoop))
        }
        for (loop, deliveries) in byLoop.groups {
            loop.execute {
                for (waiter, results) in deliveries { waiter.appended(topic: topic, partition: partition, results) }
            }
        }
    }

    /// Tells everyone waiting on records that were not written.
    private static func fail(_ records: [PendingAppend], _ error: SpoolError) {
        var byWaiter = WaiterGroups<any AppendWaiter, Int>()
        for record in records {
            guard case .waiter(let waiter, let token) = record.completion else { continue }
            byWaiter.add(token, for: waiter, id: ObjectIdentifier(waiter))
        }
        for (waiter, tokens) in byWaiter.groups {
            waiter.eventLoop.execute { waiter.appendFailed(tokens: tokens, error: error) }
        }
    }

    // MARK: Waiting for records

    /// Completes once a record at or after `after` is visible (or the log closes). The id cancels
    /// the wait with `cancelWait`.
    func waitForRecords(after offset: Offset, on loop: EventLoop) -> (id: Int, future: EventLoopFuture<Void>) {
        let promise = loop.makePromise(of: Void.self)
        let id: Int? = state.withLockedValue { state in
            guard state.high <= offset, state.closing == nil else { return nil }
            let id = state.nextWaiterID
            state.nextWaiterID += 1
            state.waiters[id] = Waiter(after: offset, promise: promise)
            return id
        }
        guard let id else {
            promise.succeed()
            return (-1, promise.futureResult)
        }
        return (id, promise.futureResult)
    }

    /// Ends a wait early (timeout, unsubscribe, closed connection): its future succeeds.
    func cancelWait(_ id: Int) {
        let waiter = state.withLockedValue { $0.waiters.removeValue(forKey: id) }
        waiter?.promise.succeed()
    }

    private static func takeWaiters(_ state: inout State, below high: Offset) -> [Waiter] {
        guard !state.waiters.isEmpty else { return [] }
        var woken: [Waiter] = []
        for (id, waiter) in state.waiters where waiter.after < high {
            woken.append(waiter)
            state.waiters.removeValue(forKey: id)
        }
        return woken
    }

    // MARK: Closing

    /// Stops taking appends. `.shutdown` lets queued appends commit first; `.dropped` fails them.
    /// Waiters are woken (they find the log closed). The future completes when the files are
    /// checkpointed and closed.
    func close(_ reason: CloseReason, on loop: EventLoop) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        var room: [EventLoopPromise<Void>] = []
        defer { for producer in room { producer.succeed() } }  // outside the lock: they may append again
        let (runNow, waiters): (Bool, [Waiter]) = state.withLockedValue { state in
            if let existing = state.closed {
                existing.futureResult.cascade(to: promise)
                return (false, [])
            }
            state.closing = reason
            state.closed = promise
            let waiters = Array(state.waiters.values)
            state.waiters = [:]
            room = Self.takeRoomWaiters(&state, bound: limits.queuedBytesPerPartition)
            if state.flushing { return (false, waiters) }
            state.flushing = true  // hold the store for the close itself
            return (true, waiters)
        }
        for waiter in waiters { waiter.promise.succeed() }
        if runNow {
            pool.submit { _ in self.finishClose(promise) }
        }
        return promise.futureResult
    }

    var isClosing: Bool { state.withLockedValue { $0.closing != nil } }

    /// Runs on a storage thread once no flush is running.
    private func finishClose(_ promise: EventLoopPromise<Void>) {
        readers.close()
        store.close()
        promise.succeed()
    }

    /// Bytes of the partition's files on disk. Call on a storage thread.
    func diskBytes() -> Int64 { store.diskBytes() }
}
