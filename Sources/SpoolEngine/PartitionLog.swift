import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Raft
import SpoolCluster
import SpoolCore
import SpoolReplication
import SpoolStorage
import Synchronization

/// One partition of a topic on this broker: the driver of its state machine (`PartitionState`,
/// which decides the batches, the watermarks and who completes or fails on each event) over the
/// partition's Raft replica (`ReplicaDriver`, docs/replication.md §11). There is one storage
/// path: a broker without cluster options is a cluster of one, and every partition is a Raft
/// group of one voter, committed on the local fsync.
///
/// Group commit: producers only enqueue. While anything is queued, one batch at a time is cut
/// from *everything* queued (up to the batch limits) and proposed to the replica as one Raft
/// entry (its offset commits as a second one); the replica writes each cycle's entries in one
/// SQLite transaction and one fsync. When the batch is durable the next one is cut at once, so
/// the more producers wait, the bigger the batches and the fsync cost is shared. The replica's
/// commit index moves `PartitionState.committed` (`committedThrough`): readers see committed
/// records only. Nothing here touches SQLite on an event loop: the replica runs on the storage
/// threads, and its events run there too.
///
/// A partition whose file is lost or damaged is *offline*: it has no replica, or its replica
/// stopped being used, and every request for it answers `ERR PARTITION_OFFLINE`, while the other
/// partitions keep serving.
///
/// A write that fails (a failed COMMIT or fsync, a full disk, or a lock held by another
/// connection past `partitionLockWaitMs`) stops the partition's writes until it has recovered
/// from its own file (`PartitionLog+Recovery.swift`); its committed records stay readable meanwhile.
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
    let replication: PartitionReplication
    let group: RaftGroupID
    /// The partition's replicas (the group's voters): this broker alone on a single broker.
    let voters: [NodeID]
    let state: NIOLockedValueBox<Locked>
    /// A group of one voter commits what it made durable in the same cycle, so acks=leader waits
    /// for that commit too: an OK means the record is readable (a FETCH right after sees it),
    /// as on the broker before replication. With followers, acks=leader answers at the leader's
    /// fsync, before the commit (Kafka's acks=1: the high watermark may lag the OK).
    var acksLeaderAtCommit: Bool { voters.count == 1 }

    /// Whether the replica committed anything since it opened, and who waits for that (`whenServing`).
    let firstCommit = NIOLockedValueBox(FirstCommit())

    struct FirstCommit {
        var done = false
        var waiters: [Int: EventLoopPromise<Void>] = [:]
        var nextID = 0
    }

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

    /// What the lock guards: the decisions, and what only the driver holds.
    struct Locked: Sendable {
        var machine: Machine
        /// The replica; nil for a partition that was offline when the broker opened it, and
        /// while a failed one is being replaced. Only the machine's writer (`writing`) proposes.
        var driver: ReplicaDriver?
        /// The replica whose write failed, until the recovery has closed its file.
        var failedDriver: ReplicaDriver?
        /// The last Raft index a successful write left before the failure (what the recovery keeps).
        var recoveryIndex: LogIndex?
        /// The close's promise, once a close was asked.
        var closed: EventLoopPromise<Void>?
    }

    /// Opens (or creates) the partition's database and its replica. Call on a storage thread.
    /// `placement` names the group and its voters in a cluster; nil for a single broker's
    /// partition (this broker its only voter).
    init(
        topic: TopicName, id: PartitionID, path: String, pool: NIOThreadPool, limits: SpoolLimits, logger: Logger,
        replication: PartitionReplication, placement: (group: RaftGroupID, voters: [NodeID])? = nil
    ) throws {
        self.topic = topic
        self.id = id
        self.path = path
        self.pool = pool
        self.limits = limits
        self.logger = logger
        self.replication = replication
        self.group = placement?.group ?? replication.group(topic, id)
        self.voters = placement?.voters ?? [replication.node]
        self.readers = ReaderPool(path: path)
        self.state = NIOLockedValueBox(Locked(machine: Machine(earliest: .zero, next: .zero, limits: limits)))
        let earliest = NIOLockedValueBox<Offset?>(nil)
        let driver = try ReplicaDriver.openNow(
            path: path, group: group, config: replicaConfig(), pool: pool, ticker: replication.ticker, sender: replication.sender,
            onApply: applier(), prepare: { store in earliest.withLockedValue { $0 = store.earliestOffset() } })
        start(driver, earliest: earliest.withLockedValue { $0 })
    }

    /// A partition that cannot be opened (its file is lost or damaged): it serves nothing and
    /// answers `ERR PARTITION_OFFLINE`; its file is left as it is for the operator.
    init(
        offline reason: OfflineReason, topic: TopicName, id: PartitionID, path: String, pool: NIOThreadPool, limits: SpoolLimits,
        logger: Logger, replication: PartitionReplication, placement: (group: RaftGroupID, voters: [NodeID])? = nil
    ) {
        self.topic = topic
        self.id = id
        self.path = path
        self.pool = pool
        self.limits = limits
        self.logger = logger
        self.replication = replication
        self.group = placement?.group ?? replication.group(topic, id)
        self.voters = placement?.voters ?? [replication.node]
        self.readers = ReaderPool(path: path)
        self.state = NIOLockedValueBox(Locked(machine: Machine(offline: reason, limits: limits)))
        offline.store(true, ordering: .releasing)
    }

    /// The broker's replica settings, with this partition's warning for a locked file.
    func replicaConfig() -> ReplicaConfig {
        var config = replication.config
        config.raft.voters = voters
        // The placement's preferred leader (its first replica) takes a new partition at once.
        config.campaignWhenNew = voters.count > 1 && voters.first == config.raft.id
        // An idle replicated partition costs nothing per tick (docs/replication.md, "Quiescence").
        config.quiesceWhenIdle = voters.count > 1
        config.onStorageFailure = { [weak self] description in self?.replicaWriteFailed(description) }
        if voters.count > 1 {
            config.onLeadershipChange = { [logger, topic, id] change in
                logger.info(
                    "partition leadership changed",
                    metadata: [
                        "topic": "\(topic)", "partition.id": "\(id)", "raft.term": "\(change.term.rawValue)",
                        "leader.id": "\(change.leader.rawValue)", "leader.previous": "\(change.previousLeader.rawValue)",
                        "role": "\(change.role)", "proposals.waiting": "\(change.waitingProposals)",
                    ])
            }
        }
        config.onLocked = { [weak self] in
            guard let self else { return }
            logger.warning(
                "partition file is locked by another connection; its writes wait (sqlite3 without -readonly?)",
                metadata: ["topic": "\(topic)", "partition.id": "\(id)", "file": "\(path)", "wait.max.ms": "\(limits.partitionLockWaitMs)"])
        }
        return config
    }

    /// The replica's commits move the committed watermark (`committedThrough`).
    func applier() -> ReplicaApply {
        { [weak self] _, high in self?.committedThrough(high) }
    }

    /// Takes `driver` as the partition's replica, with the watermarks its file has.
    func start(_ driver: ReplicaDriver, earliest: Offset?) {
        let status = driver.status
        let next = status.nextOffset
        let machine = Machine(
            earliest: min(earliest ?? next, next), next: next, committed: min(status.highWatermark, next), limits: limits,
            commitFollowsDurable: false)
        state.withLockedValue { state in
            state.machine = machine
            state.driver = driver
        }
        if voters.count > 1 { replication.router?.replace(driver) }
    }

    /// What the replica last published; nil while it has none (offline, or being replaced).
    var replicaStatus: ReplicaStatus? { state.withLockedValue { $0.driver }?.status }

    /// The driver the partition runs on now (nil while it recovers from a failed write, or offline).
    var activeDriver: ReplicaDriver? { state.withLockedValue { $0.driver } }

    /// True when this broker can take writes for the partition itself: its only replica, or the
    /// leader of its group.
    var leadsOrAlone: Bool { voters.count == 1 || replicaStatus?.role == .leader }

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

    /// Runs on a storage thread while work is queued; exactly one instance per partition (the
    /// machine's writer). Proposes the next batch and returns: its durable event (or its failure)
    /// runs the loop again.
    func flushLoop() {
        while let (batch, driver) = takeBatch() {
            guard let driver, !isOffline else {
                let rejected = state.withLockedValue { $0.machine.batchRejected() }
                Self.fail(rejected, offlineError())
                continue
            }
            propose(batch, to: driver)
            return  // the writer stays set: the batch's events go on from here
        }
    }

    /// Proposes `batch` to the replica: its records as one entry, its offset commits as another
    /// (both in the replica's next cycle: one transaction, one fsync).
    private func propose(_ batch: Batch, to driver: ReplicaDriver) {
        let progress = BatchProgress(parts: (batch.records.isEmpty ? 0 : 1) + (batch.commits.isEmpty ? 0 : 1))
        let commits = batch.commits.isEmpty ? nil : OffsetCommit.encodePayload(batch.commits.map(\.commit))
        // The offset-commit entry places the batch only when it has no records (captured as a
        // flag: the closure lives until the commit and need not hold the batch).
        let commitsPlaceBatch = batch.records.isEmpty
        // The offset commits' promises complete when their own entry commits (its positions are
        // in `consumer_offsets` by then) or fails: neither the watermark nor the records' entry
        // says the next entry committed, and a batch of only offset commits holds no offsets.
        // A promise already failed with its batch ignores the later completion.
        let ownCommit = batch.commits.map(\.promise)
        let commitEvents: @Sendable (ProposalEvent) -> Void = { [self] event in
            if commitsPlaceBatch, case .accepted(let offset) = event {
                progress.placed(at: offset)
                placed(at: offset)
            }
            handle(event, progress)
            // After `handle`: a batch failed there fails its commits with its own words first.
            switch event {
            case .committed: for promise in ownCommit { promise.succeed() }
            case .failed(let error): for promise in ownCommit { promise.fail(notCommittedError(error)) }
            default: break
            }
        }
        guard !batch.records.isEmpty else {
            driver.propose(entry: .offsetCommit, payload: commits!, commitEvents)
            return
        }
        // Borrowed through the buffer, not copied out of the array: a copy of each record
        // would retain and release its buffers and its waiter.
        let produce = batch.records.withUnsafeBufferPointer { records in
            var bytes = 0
            for index in records.indices { bytes += RecordBatch.recordOverheadBytes + records[index].byteCount }
            var produce = ProduceBatch(capacityBytes: bytes)
            for index in records.indices {
                records[index].withKeyAndValue { key, value in produce.append(key: key, value: value) }
            }
            return produce
        }
        let recordEvents: @Sendable (ProposalEvent) -> Void = { [self] event in
            if case .accepted(let offset) = event {
                progress.placed(at: offset)
                placed(at: offset)
            }
            handle(event, progress)
        }
        if let commits {
            // In one post: both entries in the same cycle, so the batch is durable (both parts)
            // before its records can commit.
            driver.propose(records: produce, recordEvents, thenEntry: .offsetCommit, payload: commits, commitEvents)
        } else {
            driver.propose(records: produce, recordEvents)
        }
    }

    /// The replica gave the batch in flight its offsets (`PartitionState.placed`): batches this
    /// replica had made durable past them were replaced by another leader's records and fail.
    private func placed(at offset: Offset) {
        let replaced = state.withLockedValue { $0.machine.placed(at: offset) }
        for batch in replaced {
            Self.fail(batch, SpoolError(.unavailable, "partition \(id) of \(topic): replaced by another leader's records, not committed"))
        }
    }

    /// One event of the batch in flight (on the replica's storage thread, or at once on this
    /// thread when the replica refused it).
    private func handle(_ event: ProposalEvent, _ progress: BatchProgress) {
        switch event {
        case .accepted, .committed:
            // Commits arrive through `committedThrough`, which also serves what other leaders wrote.
            return
        case .durable:
            if progress.partDurable() { written() }
        case .failed(let error):
            guard progress.failBeforeDurable() else {
                // After the batch was durable: its replica will not report it committed (another
                // leader replaced its entry, or no quorum took it in time). It must not wait for
                // the commit index, which may pass its offsets with another leader's records.
                guard progress.failAfterDurable(), let first = progress.first,
                    let batch = state.withLockedValue({ $0.machine.abandonAwaiting(first: first) })
                else { return }
                Self.fail(batch, notCommittedError(error))
                return
            }
            failed(error)
        }
    }

    /// What a durable batch that did not commit fails with.
    func notCommittedError(_ error: ReplicaError) -> SpoolError {
        switch error {
        case .superseded:
            SpoolError(.unavailable, "partition \(id) of \(topic): replaced by another leader's records, not committed")
        default:
            SpoolError(
                .unavailable, "partition \(id) of \(topic): written on the leader but not committed (\(error)); it may or may not be kept")
        }
    }

    /// The batch in flight is durable: acks=leader completes, and the next batch is cut.
    private func written() {
        let written = state.withLockedValue { $0.machine.batchWritten() }
        if !acksLeaderAtCommit { Self.complete(written.durable, at: .durable, topic: topic, partition: id) }
        for committed in written.committed { Self.committed(committed, topic: topic, partition: id) }
        for waiter in written.woken { waiter.promise.succeed() }
        flushLoop()
    }

    /// The batch in flight was not written.
    private func failed(_ error: ReplicaError) {
        switch error {
        case .storageFailed(let description):
            stopWrites(after: description, clientError: storageFailedError(description))
        case .locked(let waitedMs):
            stopWrites(
                after: "the file stayed locked by another connection for \(waitedMs) ms",
                clientError: SpoolError(
                    .storage,
                    "partition \(id) of \(topic) stayed locked by another connection for \(waitedMs) ms "
                        + "(an sqlite3 shell without -readonly?); the records were not written; the partition is recovering"))
        default:
            let rejected = state.withLockedValue { $0.machine.batchRejected() }
            Self.fail(rejected, replicaError(error))
            // Not from inside this event (a refusal comes back synchronously from `propose`).
            pool.submit { _ in self.flushLoop() }
        }
    }

    /// The client's words for a replica that did not take a batch.
    func replicaError(_ error: ReplicaError) -> SpoolError {
        switch error {
        case .stopped:
            SpoolError(.shuttingDown, "partition \(id) of \(topic) is closing")
        default:
            SpoolError(.unavailable, "partition \(id) of \(topic): \(error)")
        }
    }

    /// Takes the next batch and the replica to propose it to, or ends the loop (and finishes a
    /// pending close) when none is queued.
    private func takeBatch() -> (Batch, ReplicaDriver?)? {
        let (taken, driver, closed) = state.withLockedValue { state -> (Machine.Taken, ReplicaDriver?, EventLoopPromise<Void>?) in
            let taken = state.machine.nextBatch()
            guard case .idle(finishClose: true) = taken.step else { return (taken, state.driver, nil) }
            return (taken, state.driver, state.closed)
        }
        for waiter in taken.room { waiter.succeed() }
        if !taken.dropped.isEmpty { Self.fail(taken.dropped, closedError(.dropped)) }
        switch taken.step {
        case .write(let batch):
            return (batch, driver)
        case .idle:
            if let closed { finishClose(closed) }
            return nil
        }
    }

    /// Completes once the replica has committed an entry since it opened (a group of one commits
    /// its new leader's first entry at once), or after `servingWaitMs` when it has not (it is
    /// still electing, or its file failed: requests then say why); at once for an offline one.
    func whenServing(on loop: EventLoop) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        let id: Int? = isOffline ? nil : firstCommit.withLockedValue { first in
            guard !first.done else { return nil }
            first.nextID += 1
            first.waiters[first.nextID] = promise
            return first.nextID
        }
        guard let id else {
            promise.succeed()
            return promise.futureResult
        }
        loop.scheduleTask(in: .milliseconds(Self.servingWaitMs)) {
            self.firstCommit.withLockedValue { $0.waiters.removeValue(forKey: id) }?.succeed()
        }
        return promise.futureResult
    }

    /// How long `whenServing` waits for the replica's first commit.
    static let servingWaitMs: Int64 = 5_000

    /// The replica committed every record below `high` (on its storage thread).
    func committedThrough(_ high: Offset) {
        let waiting = firstCommit.withLockedValue { first -> [EventLoopPromise<Void>] in
            guard !first.done else { return [] }
            first.done = true
            defer { first.waiters = [:] }
            return Array(first.waiters.values)
        }
        for promise in waiting { promise.succeed() }
        let advanced = state.withLockedValue { $0.machine.commitAdvanced(to: high) }
        for committed in advanced.committed {
            if acksLeaderAtCommit { Self.complete(committed, at: .durable, topic: topic, partition: id) }
            Self.committed(committed, topic: topic, partition: id)
        }
        for waiter in advanced.woken { waiter.promise.succeed() }
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

    /// The second completion point: `batch`'s acks=all records are committed. (Its offset
    /// commits complete on their own entry's events: `propose`.)
    private static func committed(_ batch: Batch, topic: TopicName, partition: PartitionID) {
        complete(batch, at: .committed, topic: topic, partition: partition)
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
        let driver = state.withLockedValue { $0.driver.take() }
        if voters.count > 1 { replication.router?.unregister(group) }
        _ = driver?.stopping()
    }

    /// Runs on a storage thread once no flush is running: closes the readers, then stops the
    /// replica (its last cycle checkpoints and closes the file). Readers first: a checkpoint
    /// cannot empty the WAL while a reader holds a snapshot in it, and the readers (read-only)
    /// cannot checkpoint when they close last, so the WAL would stay behind.
    private func finishClose(_ promise: EventLoopPromise<Void>) {
        readers.close()
        let (driver, failed) = state.withLockedValue { state in (state.driver.take(), state.failedDriver.take()) }
        if voters.count > 1 { replication.router?.unregister(group) }
        let loop = replication.ticker.eventLoop
        let stopped = (driver?.stopping() ?? loop.makeSucceededVoidFuture())
            .flatMap { failed?.stopping(abandon: true) ?? loop.makeSucceededVoidFuture() }
        stopped.whenComplete { _ in
            self.pool.submit { _ in
                // Durable batches the replica never committed (a cluster that lost its quorum):
                // their outcome is unknown, they fail as the close's.
                let uncommitted = self.state.withLockedValue { $0.machine.takeAwaitingCommit() }
                for batch in uncommitted { Self.fail(batch, self.closedError(.shutdown)) }
                promise.succeed()
            }
        }
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

    /// The client's words for a failed write: topic and partition, never the file's path.
    func storageFailedError(_ description: String) -> SpoolError {
        var summary = description
        if summary.hasPrefix(path + ": ") { summary.removeFirst(path.count + 2) }
        if summary.contains("/") { summary = "a file operation failed (the broker's log names the file)" }
        return SpoolError(
            .storage, "writing partition \(id) of \(topic) failed: \(summary); the partition stopped taking writes and is recovering")
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

/// How far one batch in flight got: it is durable once each of its entries (records, offset
/// commits) is, and the first failure before that fails it; later events are ignored.
final class BatchProgress: Sendable {
    private let state: NIOLockedValueBox<(durableLeft: Int, failed: Bool, first: Offset?)>

    init(parts: Int) {
        precondition(parts > 0, "a batch without records or commits")
        state = NIOLockedValueBox((parts, false, nil))
    }

    /// Where the replica placed the batch (its first offset).
    func placed(at offset: Offset) { state.withLockedValue { $0.first = offset } }

    var first: Offset? { state.withLockedValue { $0.first } }

    /// The first failure of a batch that was durable; false for later ones.
    func failAfterDurable() -> Bool {
        state.withLockedValue { state in
            guard !state.failed, state.durableLeft == 0 else { return false }
            state.failed = true
            return true
        }
    }

    /// One entry is durable; true when that makes the batch durable.
    func partDurable() -> Bool {
        state.withLockedValue { state in
            guard !state.failed, state.durableLeft > 0 else { return false }
            state.durableLeft -= 1
            return state.durableLeft == 0
        }
    }

    /// True for the first failure of a batch that is not durable yet.
    func failBeforeDurable() -> Bool {
        state.withLockedValue { state in
            guard !state.failed, state.durableLeft > 0 else { return false }
            state.failed = true
            return true
        }
    }
}
