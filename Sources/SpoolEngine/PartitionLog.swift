import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SpoolCore
import SpoolStorage
import Synchronization

/// One partition of a topic on this broker: its queue of pending appends, its group-commit flush
/// loop, its high watermark and the consumers waiting for new records.
///
/// Group commit: producers only enqueue. While anything is queued, one flush loop runs on a
/// storage thread and repeatedly takes *everything* queued (up to the batch limits) into one
/// SQLite transaction and one fsync. The more producers wait, the bigger the batches, so the
/// fsync cost is shared. The store is touched only by that loop (the `flushing` flag makes it the
/// serial owner); SQLite never runs on an event loop.
///
/// A partition whose file is lost or damaged is *offline*: it has no store, or its store stopped
/// being used, and every request for it answers `ERR PARTITION_OFFLINE`, while the other
/// partitions keep serving.
///
/// A write that fails for any other reason than a lock (a failed COMMIT or fsync, a full disk)
/// stops the partition's writes until it has recovered from its own file
/// (`PartitionLog+Recovery.swift`); its committed records stay readable meanwhile.
final class PartitionLog: Sendable {
    let topic: TopicName
    let id: PartitionID
    let path: String
    let readers: ReaderPool
    /// Set once, when the partition goes offline; read on every request (no lock).
    let offline = Atomic<Bool>(false)
    /// Set while the partition recovers from a failed write (`State.recovery`), for lock-free
    /// reads (keyless records skip such a partition); the lock's state is the authority.
    let writesStopped = Atomic<Bool>(false)
    let pool: NIOThreadPool
    let limits: SpoolLimits
    let logger: Logger
    let state: NIOLockedValueBox<State>

    struct Waiter {
        var after: Offset
        var promise: EventLoopPromise<Void>
    }

    struct PendingCommit {
        var commit: OffsetCommit
        var promise: EventLoopPromise<Void>
    }

    struct State {
        /// The writer; nil for a partition that was offline when the broker opened it, and
        /// while a failed one is being replaced. Only the flush loop's owner (`flushing`) uses it.
        var store: PartitionStore?
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
        /// Why the partition is offline, once it is.
        var offlineReason: OfflineReason?
        /// A batch that found the file locked by another connection, to write first on the next try.
        var retrying: (batch: [PendingAppend], commits: [PendingCommit])?
        /// When the current run of "locked by another connection" began.
        var lockedSinceNs: UInt64?
        var lockedRetries = 0
        /// Record bytes in `pending` (not yet taken into a transaction), bounded by
        /// `queuedBytesPerPartition`: producers that find it full wait in `roomWaiters`.
        var queuedBytes = 0
        var roomWaiters: [EventLoopPromise<Void>] = []
        /// Set from a failed write until the partition has recovered: no write is taken meanwhile.
        var recovery: WriteRecovery?
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
        let store = try PartitionStore(path: path)
        self.readers = ReaderPool(path: path)
        self.state = NIOLockedValueBox(State(store: store, high: store.nextOffset, earliest: store.earliestOffset))
    }

    /// A partition that cannot be opened (its file is lost or damaged): it serves nothing and
    /// answers `ERR PARTITION_OFFLINE`; its file is left as it is for the operator.
    init(offline reason: OfflineReason, topic: TopicName, id: PartitionID, path: String, pool: NIOThreadPool, limits: SpoolLimits, logger: Logger) {
        self.topic = topic
        self.id = id
        self.path = path
        self.pool = pool
        self.limits = limits
        self.logger = logger
        self.readers = ReaderPool(path: path)
        var state = State(store: nil, high: .zero, earliest: .zero)
        state.offlineReason = reason
        self.state = NIOLockedValueBox(state)
        offline.store(true, ordering: .releasing)
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
            if state.recovery != nil { return .failure(recoveringError()) }
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
    static func takeRoomWaiters(_ state: inout State, bound: Int) -> [EventLoopPromise<Void>] {
        guard !state.roomWaiters.isEmpty, state.queuedBytes < bound || state.closing != nil else { return [] }
        defer { state.roomWaiters = [] }
        return state.roomWaiters
    }

    /// What work sent to a closing log fails with.
    func closedError(_ reason: CloseReason) -> SpoolError {
        switch reason {
        case .dropped: SpoolError(.unknownTopic, "topic \(topic) was dropped")
        case .shutdown: SpoolError(.shuttingDown, "the broker is shutting down")
        }
    }

    /// Runs on a storage thread while records are queued; exactly one instance per partition.
    func flushLoop() {
        while let (batch, commits) = takeBatch() {
            guard let store = state.withLockedValue({ $0.store }), !isOffline else {
                let error = offlineError()
                Self.fail(batch, error)
                for commit in commits { commit.promise.fail(error) }
                continue
            }
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
                    state.lockedSinceNs = nil
                    return Self.takeWaiters(&state, below: state.high)
                }
                Self.complete(batch, first: first, topic: topic, partition: id)
                for commit in commits { commit.promise.succeed() }
                for waiter in woken { waiter.promise.succeed() }
            case .failure(let error) where error.isBusy:
                // Another connection holds the write lock. Sleeping in SQLite's busy handler
                // would hold this storage thread, which every partition shares; instead the
                // batch stays first in line and this partition alone tries again shortly.
                switch lockedOut(batch, commits) {
                case .retry(let delayMs):
                    scheduleRetry(afterMs: delayMs)
                    return  // `flushing` stays set: the retry is this partition's flush loop
                case .giveUp(let failedBatch, let failedCommits):
                    let spoolError = SpoolError(
                        .storage,
                        "partition \(id) of \(topic) stayed locked by another connection for \(limits.partitionLockWaitMs) ms "
                            + "(an sqlite3 shell without -readonly?); the records were not written")
                    Self.fail(failedBatch, spoolError)
                    for commit in failedCommits { commit.promise.fail(spoolError) }
                }
            case .failure(let error) where error.isDamaged:
                let spoolError = storageFailure(error, while: "writing")
                Self.fail(batch, spoolError)
                for commit in commits { commit.promise.fail(spoolError) }
            case .failure(let error):
                // The file's state is unknown now (after a failed fsync, even what the kernel
                // holds): nothing more is written on top of it until it is recovered.
                stopWrites(after: error, batch, commits)
                return  // `flushing` stays set: the recovery is this partition's flush loop now
            }
        }
    }

    private enum LockedOutcome {
        case retry(delayMs: Int64)
        /// The lock was held past `partitionLockWaitMs`: fail this batch and all queued behind it.
        case giveUp([PendingAppend], [PendingCommit])
    }

    /// Decides what a batch that found the file locked does next.
    private func lockedOut(_ batch: [PendingAppend], _ commits: [PendingCommit]) -> LockedOutcome {
        let now = WallClock.monotonicNs()
        var room: [EventLoopPromise<Void>] = []
        defer { for waiter in room { waiter.succeed() } }
        let (outcome, first): (LockedOutcome, Bool) = state.withLockedValue { state in
            let first = state.lockedSinceNs == nil
            if first {
                state.lockedSinceNs = now
                state.lockedRetries = 0
            }
            let lockedMs = Int64((now - (state.lockedSinceNs ?? now)) / 1_000_000)
            if lockedMs >= limits.partitionLockWaitMs && state.closing != .dropped {
                let failed = (batch + state.pending, commits + state.pendingCommits)
                state.pending = []
                state.pendingCommits = []
                state.queuedBytes = 0
                room = Self.takeRoomWaiters(&state, bound: limits.queuedBytesPerPartition)
                state.lockedSinceNs = nil
                return (.giveUp(failed.0, failed.1), first)
            }
            state.retrying = (batch, commits)
            state.lockedRetries += 1
            // 1, 2, 4 ... 64 ms, then every 100 ms; at once when dropped (takeBatch fails it).
            let delay = state.closing == .dropped ? 0 : min(100, Int64(1) << min(state.lockedRetries - 1, 6))
            return (.retry(delayMs: delay), first)
        }
        switch outcome {
        case .retry where first:
            logger.warning(
                "partition file is locked by another connection; its writes wait (sqlite3 without -readonly?)",
                metadata: ["topic": "\(topic)", "partition.id": "\(id)", "file": "\(path)"])
        case .giveUp(let failed, _):
            logger.error(
                "partition file stayed locked; failing its queued writes",
                metadata: [
                    "topic": "\(topic)", "partition.id": "\(id)", "file": "\(path)", "records": "\(failed.count)",
                    "waited.ms": "\(limits.partitionLockWaitMs)",
                ])
        case .retry: break
        }
        return outcome
    }

    /// Runs this partition's flush loop again after `afterMs`, from a timer (no thread waits).
    private func scheduleRetry(afterMs: Int64) {
        MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: .milliseconds(afterMs)) {
            self.pool.submit { _ in self.flushLoop() }
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
                var failed = state.pending
                var failedCommits = state.pendingCommits
                if let retrying = state.retrying {
                    failed = retrying.batch + failed
                    failedCommits = retrying.commits + failedCommits
                    state.retrying = nil
                }
                state.pending = []
                state.pendingCommits = []
                state.flushing = false
                return (nil, [], state.closed, failed, failedCommits)
            }
            if let retrying = state.retrying {
                state.retrying = nil
                return (retrying.batch, retrying.commits, nil, [], [])
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
    static func fail(_ records: [PendingAppend], _ error: SpoolError) {
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
        let (runNow, waiters, recoverNow): (Bool, [Waiter], Int?) = state.withLockedValue { state in
            if let existing = state.closed {
                existing.futureResult.cascade(to: promise)
                return (false, [], nil)
            }
            state.closing = reason
            state.closed = promise
            let waiters = Array(state.waiters.values)
            state.waiters = [:]
            room = Self.takeRoomWaiters(&state, bound: limits.queuedBytesPerPartition)
            // A recovery waiting for its timer runs now and finishes the close, instead of
            // holding the shutdown or the drop for up to `writeRecoveryRetryMs`.
            let recoverNow = state.recovery?.hurry()
            if state.flushing { return (false, waiters, recoverNow) }
            state.flushing = true  // hold the store for the close itself
            return (true, waiters, nil)
        }
        for waiter in waiters { waiter.promise.succeed() }
        if runNow {
            pool.submit { _ in self.finishClose(promise) }
        }
        if let recoverNow {
            pool.submit { _ in self.recover(ticket: recoverNow) }
        }
        return promise.futureResult
    }

    var isClosing: Bool { state.withLockedValue { $0.closing != nil } }

    /// What a request for this partition fails with now: nil while it serves. Offline first (it
    /// is the partition's own state), then closing (dropped, or the broker stopping).
    var unavailableError: SpoolError? {
        if isOffline { return offlineError() }
        return state.withLockedValue { $0.closing }.map(closedError)
    }

    /// Closes a log that never took work (a CREATE or an open that failed). Storage thread only.
    func closeNow() {
        readers.close()
        state.withLockedValue { $0.store }?.close()
    }

    /// Runs on a storage thread once no flush is running.
    private func finishClose(_ promise: EventLoopPromise<Void>) {
        readers.close()
        state.withLockedValue { $0.store }?.close()
        promise.succeed()
    }

    /// Bytes of the partition's files on disk. Call on a storage thread.
    func diskBytes() -> Int64 { FileSystem.diskBytes(ofDatabase: path) }

    // MARK: Offline partitions and storage failures

    var isOffline: Bool { offline.load(ordering: .acquiring) }

    /// False while the partition is offline or recovering from a failed write.
    var takesWrites: Bool { !isOffline && !writesStopped.load(ordering: .acquiring) }

    var offlineReason: OfflineReason? { state.withLockedValue { $0.offlineReason } }

    func offlineError() -> SpoolError {
        let reason = offlineReason ?? .damaged
        return SpoolError(
            .partitionOffline, "partition \(id) of \(topic) is offline: its file is \(reason.rawValue) (the broker's log names it)")
    }

    /// Takes the partition out of service because its file is damaged: logged once with the
    /// file's path, every waiting consumer woken (it finds the partition offline).
    @discardableResult
    func takeOffline(_ error: StorageError) -> SpoolError {
        let (first, waiters): (Bool, [Waiter]) = state.withLockedValue { state in
            guard state.offlineReason == nil else { return (false, []) }
            state.offlineReason = .damaged
            let waiters = Array(state.waiters.values)
            state.waiters = [:]
            return (true, waiters)
        }
        offline.store(true, ordering: .releasing)
        if first {
            logger.error(
                "partition taken out of service: its file is damaged; restore it from a backup and restart, or DROP the topic",
                metadata: ["topic": "\(topic)", "partition.id": "\(id)", "file": "\(path)", "error": "\(error)"])
        }
        for waiter in waiters { waiter.promise.succeed() }
        return offlineError()
    }

    /// The client's view of a storage failure: topic and partition, never the file's path (the
    /// log has it). A damaged file takes the partition offline.
    func storageFailure(_ error: StorageError, while doing: String) -> SpoolError {
        if error.isDamaged { return takeOffline(error) }
        logger.error(
            "\(doing) failed", metadata: ["topic": "\(topic)", "partition.id": "\(id)", "file": "\(path)", "error": "\(error)"])
        return SpoolError(.storage, "\(doing) partition \(id) of \(topic) failed: \(error.summary)")
    }

    /// Runs `body` with a reader (storage thread only); storage failures come back as the
    /// client's `SpoolError` (see `storageFailure`).
    func withReader<R>(_ body: (PartitionReader) throws -> R) throws -> R {
        if let error = unavailableError { throw error }
        do {
            return try readers.withReader(body)
        } catch let error as StorageError {
            throw storageFailure(error, while: "reading")
        }
    }
}
