import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SpoolCore
import SpoolStorage
import Synchronization

/// One partition of a topic on this broker: the driver of its state machine (`PartitionState`,
/// which decides the batches, the watermarks and who completes or fails on each event). This
/// class owns the store, the storage thread and the timers, and performs those decisions:
/// promises and waiters are completed outside the lock, on their event loops.
///
/// Where replication goes: `flushLoop` is "propose" (a cut batch is written to the local log)
/// and `batchWritten` is local durability; a Raft driver will report the commit index through
/// `PartitionState.commitAdvanced(to:)` ("apply") instead of the state's `commitFollowsDurable`.
///
/// Group commit: producers only enqueue. While anything is queued, one flush loop runs on a
/// storage thread and repeatedly takes *everything* queued (up to the batch limits) into one
/// SQLite transaction and one fsync. The more producers wait, the bigger the batches, so the
/// fsync cost is shared. The store is touched only by that loop (the machine's `writing` flag makes it the
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
    /// Set while the partition recovers from a failed write (`PartitionState.recovery`), for
    /// lock-free reads (keyless records skip such a partition); the state machine is the authority.
    let writesStopped = Atomic<Bool>(false)
    let pool: NIOThreadPool
    let limits: SpoolLimits
    let logger: Logger
    let state: NIOLockedValueBox<Locked>

    struct Waiter: Sendable {
        var promise: EventLoopPromise<Void>
    }

    struct PendingCommit: Sendable {
        var commit: OffsetCommit
        var promise: EventLoopPromise<Void>
    }

    typealias Machine = PartitionState<PendingAppend, PendingCommit, Waiter, EventLoopPromise<Void>>
    typealias Batch = Machine.Batch
    typealias CloseReason = PartitionCloseReason

    /// What the lock guards: the decisions, and the two things only the driver holds.
    struct Locked: Sendable {
        var machine: Machine
        /// The writer; nil for a partition that was offline when the broker opened it, and
        /// while a failed one is being replaced. Only the machine's writer (`writing`) uses it.
        var store: PartitionStore?
        /// The close's promise, once a close was asked.
        var closed: EventLoopPromise<Void>?
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
        let machine = Machine(earliest: store.earliestOffset, next: store.nextOffset, limits: limits)
        self.state = NIOLockedValueBox(Locked(machine: machine, store: store))
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
        self.state = NIOLockedValueBox(Locked(machine: Machine(offline: reason, limits: limits), store: nil))
        offline.store(true, ordering: .releasing)
    }

    /// The offsets of the first retained record and of the first record not yet committed: every
    /// reader is bounded by these (records at or past `high` may be written but not committed).
    var bounds: (earliest: Offset, high: Offset) {
        state.withLockedValue { ($0.machine.earliest, $0.machine.committed) }
    }

    /// The three watermarks (`PartitionState`), for tests and diagnostics.
    var watermarks: (assigned: Offset, durable: Offset, committed: Offset) {
        state.withLockedValue { ($0.machine.assigned, $0.machine.durable, $0.machine.committed) }
    }

    // MARK: Appending

    /// Queues a record for the next group commit. Its `completion` hears the offset once the
    /// record is durable (acks=leader) or committed (acks=all), or the `SpoolError` it failed
    /// with. Returns true when the queue is now at `queuedBytesPerPartition` or past it: the
    /// record is queued all the same (it is in memory already), and the caller should produce
    /// nothing more to this partition until `waitForRoom` completes.
    func append(_ record: PendingAppend) throws(SpoolError) -> Bool {
        try started(state.withLockedValue { $0.machine.enqueue(record) })
    }

    /// Queues a consumer-group commit for the next group commit: it is written in the same
    /// transaction (and fsync) as the records queued with it, and completes when they are
    /// committed. Throws (and leaves `promise` to the caller) when the log is closing.
    func commit(_ commit: OffsetCommit, promise: EventLoopPromise<Void>) throws(SpoolError) {
        _ = try started(state.withLockedValue { $0.machine.enqueue(commit: PendingCommit(commit: commit, promise: promise)) })
    }

    /// Starts the flush loop when the machine says none runs. Returns true when the queued bytes
    /// are at their bound.
    private func started(_ enqueued: Machine.Enqueued) throws(SpoolError) -> Bool {
        switch enqueued {
        case .refused(let refusal):
            throw error(refusal)
        case .queued(let startWriter, let full):
            if startWriter {
                pool.submit { _ in self.flushLoop() }
            }
            return full
        }
    }

    /// The client's words for a refusal.
    func error(_ refusal: PartitionRefusal) -> SpoolError {
        switch refusal {
        case .closing(let reason): closedError(reason)
        case .recovering: recoveringError()
        }
    }

    /// Completes once the queue is below `queuedBytesPerPartition` (at once when it is), or the
    /// log closes (then the next append says why).
    func waitForRoom(on loop: EventLoop) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        if !state.withLockedValue({ $0.machine.waitForRoom(promise) }) { promise.succeed() }
        return promise.futureResult
    }

    /// What work sent to a closing log fails with.
    func closedError(_ reason: CloseReason) -> SpoolError {
        switch reason {
        case .dropped: SpoolError(.unknownTopic, "topic \(topic) was dropped")
        case .shutdown: SpoolError(.shuttingDown, "the broker is shutting down")
        }
    }

    /// Runs on a storage thread while records are queued; exactly one instance per partition
    /// (the machine's writer).
    func flushLoop() {
        while let (batch, store) = takeBatch() {
            guard let store, !isOffline else {
                let rejected = state.withLockedValue { $0.machine.batchRejected() }
                Self.fail(rejected, offlineError())
                continue
            }
            let result: Result<Offset, StorageError>
            do {
                result = .success(
                    try store.append(
                        batch.records, commits: batch.commits.map(\.commit), at: batch.first, timestamp: TimestampMs(WallClock.nowMs())))
            } catch {
                result = .failure(error)
            }
            switch result {
            case .success:
                precondition(store.nextOffset == batch.next, "the store ends at \(store.nextOffset), the batch at \(batch.next)")
                let written = state.withLockedValue { $0.machine.batchWritten() }
                Self.complete(written.durable, at: .durable, topic: topic, partition: id)
                for committed in written.committed { Self.committed(committed, topic: topic, partition: id) }
                for waiter in written.woken { waiter.promise.succeed() }
            case .failure(let error) where error.isBusy:
                // Another connection holds the write lock. Sleeping in SQLite's busy handler
                // would hold this storage thread, which every partition shares; instead the
                // batch stays first in line and this partition alone tries again shortly.
                switch lockedOut() {
                case .retry(let delayMs, _):
                    scheduleRetry(afterMs: delayMs)
                    return  // the writer stays set: the retry is this partition's flush loop
                case .giveUp(let failed, _):
                    let spoolError = SpoolError(
                        .storage,
                        "partition \(id) of \(topic) stayed locked by another connection for \(limits.partitionLockWaitMs) ms "
                            + "(an sqlite3 shell without -readonly?); the records were not written")
                    Self.fail(failed, spoolError)
                }
            case .failure(let error) where error.isDamaged:
                let spoolError = storageFailure(error, while: "writing")
                let rejected = state.withLockedValue { $0.machine.batchRejected() }
                Self.fail(rejected, spoolError)
            case .failure(let error):
                // The file's state is unknown now (after a failed fsync, even what the kernel
                // holds): nothing more is written on top of it until it is recovered.
                stopWrites(after: error)
                return  // the writer stays set: the recovery is this partition's flush loop now
            }
        }
    }

    /// Asks the machine what a batch that found the file locked does next, and logs it.
    private func lockedOut() -> Machine.Locked {
        let now = WallClock.monotonicNs()
        let outcome = state.withLockedValue { $0.machine.writeLocked(nowNs: now) }
        switch outcome {
        case .retry(_, let firstWarning):
            if firstWarning {
                logger.warning(
                    "partition file is locked by another connection; its writes wait (sqlite3 without -readonly?)",
                    metadata: ["topic": "\(topic)", "partition.id": "\(id)", "file": "\(path)"])
            }
        case .giveUp(let failed, let room):
            logger.error(
                "partition file stayed locked; failing its queued writes",
                metadata: [
                    "topic": "\(topic)", "partition.id": "\(id)", "file": "\(path)", "records": "\(failed.records.count)",
                    "waited.ms": "\(limits.partitionLockWaitMs)",
                ])
            for waiter in room { waiter.succeed() }
        }
        return outcome
    }

    /// Runs this partition's flush loop again after `afterMs`, from a timer (no thread waits).
    private func scheduleRetry(afterMs: Int64) {
        MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: .milliseconds(afterMs)) {
            self.pool.submit { _ in self.flushLoop() }
        }
    }

    /// Takes the next batch and the store to write it with, or ends the loop (and finishes a
    /// pending close) when none is queued.
    private func takeBatch() -> (Batch, PartitionStore?)? {
        let (taken, store, closed) = state.withLockedValue { state -> (Machine.Taken, PartitionStore?, EventLoopPromise<Void>?) in
            let taken = state.machine.nextBatch()
            guard case .idle(finishClose: true) = taken.step else { return (taken, state.store, nil) }
            return (taken, state.store, state.closed)
        }
        for waiter in taken.room { waiter.succeed() }
        if !taken.dropped.isEmpty { Self.fail(taken.dropped, closedError(.dropped)) }
        switch taken.step {
        case .write(let batch):
            return (batch, store)
        case .idle:
            if let closed { finishClose(closed) }
            return nil
        }
    }

    /// Tells everyone waiting on `batch` at `point`: one task per event loop with the results of
    /// each of its connections, never one per record, and no allocation per record
    /// (`WaiterGroups`).
    private static func complete(_ batch: Batch, at point: AckPoint, topic: TopicName, partition: PartitionID) {
        var byWaiter = WaiterGroups<any AppendWaiter, (token: Int, offset: Offset)>()
        let first = batch.first
        for index in batch.records.indices {
            switch (batch.records[index].completion, point) {
            case (.durable(let waiter, let token), .durable), (.committed(let waiter, let token), .committed):
                byWaiter.add((token, first + Int64(index)), for: waiter, id: ObjectIdentifier(waiter))
            default:
                continue
            }
        }
        guard !byWaiter.groups.isEmpty else { return }
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

    /// The second completion point: `batch` is committed (acks=all records, offset commits).
    private static func committed(_ batch: Batch, topic: TopicName, partition: PartitionID) {
        complete(batch, at: .committed, topic: topic, partition: partition)
        for commit in batch.commits { commit.promise.succeed() }
    }

    static func fail(_ batch: Batch, _ error: SpoolError) {
        fail(FailedWork(records: batch.records, commits: batch.commits), error)
    }

    /// Tells everyone waiting on records and commits that were not written.
    static func fail(_ work: FailedWork<PendingAppend, PendingCommit>, _ error: SpoolError) {
        var byWaiter = WaiterGroups<any AppendWaiter, Int>()
        for record in work.records {
            switch record.completion {
            case .durable(let waiter, let token), .committed(let waiter, let token):
                byWaiter.add(token, for: waiter, id: ObjectIdentifier(waiter))
            case .none:
                continue
            }
        }
        for (waiter, tokens) in byWaiter.groups {
            waiter.eventLoop.execute { waiter.appendFailed(tokens: tokens, error: error) }
        }
        for commit in work.commits { commit.promise.fail(error) }
    }

    // MARK: Waiting for records

    /// Completes once a record at or after `after` is committed (or the log closes). The id
    /// cancels the wait with `cancelWait`.
    func waitForRecords(after offset: Offset, on loop: EventLoop) -> (id: Int, future: EventLoopFuture<Void>) {
        let promise = loop.makePromise(of: Void.self)
        guard let id = state.withLockedValue({ $0.machine.waitForRecords(after: offset, Waiter(promise: promise)) }) else {
            promise.succeed()
            return (-1, promise.futureResult)
        }
        return (id, promise.futureResult)
    }

    /// Ends a wait early (timeout, unsubscribe, closed connection): its future succeeds.
    func cancelWait(_ id: Int) {
        let waiter = state.withLockedValue { $0.machine.cancelWait(id) }
        waiter?.promise.succeed()
    }

    // MARK: Closing

    /// Stops taking appends. `.shutdown` lets queued appends commit first; `.dropped` fails them.
    /// Waiters are woken (they find the log closed). The future completes when the files are
    /// checkpointed and closed.
    func close(_ reason: CloseReason, on loop: EventLoop) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        let closing = state.withLockedValue { state -> Machine.Closing in
            let closing = state.machine.close(reason)
            switch closing {
            case .already: state.closed?.futureResult.cascade(to: promise)
            case .started: state.closed = promise
            }
            return closing
        }
        guard case .started(let woken, let room, let finishNow, let recoverNow) = closing else { return promise.futureResult }
        for waiter in woken { waiter.promise.succeed() }
        for producer in room { producer.succeed() }  // outside the lock: they may append again
        if finishNow {
            pool.submit { _ in self.finishClose(promise) }
        }
        if let recoverNow {
            pool.submit { _ in self.recover(ticket: recoverNow) }
        }
        return promise.futureResult
    }

    var isClosing: Bool { state.withLockedValue { $0.machine.closing != nil } }

    /// What a request for this partition fails with now: nil while it serves. Offline first (it
    /// is the partition's own state), then closing (dropped, or the broker stopping).
    var unavailableError: SpoolError? {
        if isOffline { return offlineError() }
        return state.withLockedValue { $0.machine.closing }.map(closedError)
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

    var offlineReason: OfflineReason? { state.withLockedValue { $0.machine.offline } }

    func offlineError() -> SpoolError {
        let reason = offlineReason ?? .damaged
        return SpoolError(
            .partitionOffline, "partition \(id) of \(topic) is offline: its file is \(reason.rawValue) (the broker's log names it)")
    }

    /// Takes the partition out of service because its file is damaged: logged once with the
    /// file's path, every waiting consumer woken (it finds the partition offline).
    @discardableResult
    func takeOffline(_ error: StorageError) -> SpoolError {
        let (first, waiters) = state.withLockedValue { $0.machine.takeOffline(.damaged) }
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
