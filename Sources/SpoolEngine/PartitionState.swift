import SpoolCore

/// What the partition state machine needs to know of a queued record: its size (the batch and
/// queue limits count key and value bytes).
protocol QueuedRecord {
    var byteCount: Int { get }
}

/// Why a partition refuses new work (the driver words the `SpoolError`).
enum PartitionRefusal: Equatable, Sendable {
    case closing(PartitionCloseReason)
    /// A write failed and the partition has not recovered from its file yet.
    case recovering
}

enum PartitionCloseReason: Equatable, Sendable {
    /// Broker shutdown: finish what is queued, then close.
    case shutdown
    /// Topic dropped: fail what is queued.
    case dropped
}

/// Records and offset commits cut from the queue to be written in one transaction (one fsync).
struct PartitionBatch<Record, Commit> {
    /// The offset of `records[0]`, given when the batch is cut (the leader assigns offsets; the
    /// store checks it is the file's next offset).
    let first: Offset
    var records: [Record]
    var commits: [Commit]

    /// The offset after the batch's last record.
    var next: Offset { first + Int64(records.count) }
}

/// Work that failed as a whole (the driver fails each record and commit with one error).
struct FailedWork<Record, Commit> {
    var records: [Record] = []
    var commits: [Commit] = []

    var isEmpty: Bool { records.isEmpty && commits.isEmpty }
}

/// One partition's decisions, without I/O: the queue and how it is cut into batches, the three
/// watermarks, which appends, commits and waiters complete or fail on each event, backpressure
/// room, closing, offline and recovery from a failed write. (A file locked by another
/// connection is the replica driver's to wait for: `ReplicaConfig.lockWaitMs`.)
///
/// Pure and synchronous (no NIO, no SQLite, no locks, no clock: time comes in as monotonic ns):
/// `PartitionLog` holds it under its lock, owns the store and the threads, and performs what each
/// event returns. Generic over what it queues so tests drive it with plain values; the engine
/// instantiates it once (`PartitionLog.Machine`), so release builds specialise it.
///
/// Watermarks, `earliest <= committed <= durable <= assigned`:
/// - `assigned`: the offset the next cut batch starts at (counts the batch being written).
/// - `durable`: records below it are fsynced in the local file.
/// - `committed`: records below it are committed; every reader (fetch, long polls, offsets,
///   describe, lag, verify) is bounded by it. On one broker it follows `durable`
///   (`commitFollowsDurable`); with Raft the driver moves it with `commitAdvanced(to:)`.
///
/// Completion points: a batch is reported once when durable (`BatchWritten.durable`: acks=leader)
/// and once when committed (`BatchWritten.committed` / `CommitAdvanced.committed`: acks=all and
/// offset commits).
///
/// One writer at a time (`writing`): from `enqueue` starting it until `nextBatch` says idle, the
/// driver's flush loop (or the recovery, or the close) is the store's only user.
struct PartitionState<Record: QueuedRecord, Commit, Waiter, Room> {
    typealias Batch = PartitionBatch<Record, Commit>
    typealias Failed = FailedWork<Record, Commit>

    let limits: SpoolLimits
    /// True on a single broker: a durable batch is committed at once.
    let commitFollowsDurable: Bool

    private(set) var earliest: Offset
    private(set) var assigned: Offset
    private(set) var durable: Offset
    private(set) var committed: Offset

    private(set) var pending: [Record] = []
    private(set) var pendingCommits: [Commit] = []
    /// Record bytes in `pending` (not yet cut into a batch), bounded by `queuedBytesPerPartition`.
    private(set) var queuedBytes = 0
    /// Set while a writer owns the store (see the type's comment).
    private(set) var writing = false
    /// The batch cut and not yet durable (proposed to the replica).
    private(set) var inFlight: Batch?
    /// Durable batches not yet committed, oldest first (empty while `commitFollowsDurable`).
    private(set) var awaitingCommit: [Batch] = []

    private(set) var waiters: [Int: (after: Offset, waiter: Waiter)] = [:]
    private var nextWaiterID = 0
    private(set) var roomWaiters: [Room] = []

    private(set) var closing: PartitionCloseReason?
    private(set) var offline: OfflineReason?
    /// Set from a failed write until the partition has recovered: no write is taken meanwhile.
    private(set) var recovery: WriteRecovery?

    /// A partition whose file holds `earliest ..< next`, committed below `committed` (all of it
    /// when nil).
    init(earliest: Offset, next: Offset, committed: Offset? = nil, limits: SpoolLimits, commitFollowsDurable: Bool = true) {
        precondition(earliest <= next, "earliest \(earliest) is past next \(next)")
        let committed = committed ?? next
        precondition(committed <= next, "committed \(committed) is past next \(next)")
        self.limits = limits
        self.commitFollowsDurable = commitFollowsDurable
        self.earliest = earliest
        assigned = next
        durable = next
        self.committed = max(committed, earliest)
    }

    /// A partition that could not be opened: it takes nothing.
    init(offline reason: OfflineReason, limits: SpoolLimits) {
        self.init(earliest: .zero, next: .zero, limits: limits)
        offline = reason
    }

    // MARK: Queueing

    enum Enqueued: Equatable {
        case refused(PartitionRefusal)
        /// `startWriter`: the driver starts the flush loop (none was running). `full`: the queue
        /// is at its bound with this work; the producer waits for room.
        case queued(startWriter: Bool, full: Bool)
    }

    mutating func enqueue(_ record: Record) -> Enqueued {
        if let refusal { return .refused(refusal) }
        pending.append(record)
        queuedBytes += record.byteCount
        return queued()
    }

    mutating func enqueue(commit: Commit) -> Enqueued {
        if let refusal { return .refused(refusal) }
        pendingCommits.append(commit)
        return queued()
    }

    private var refusal: PartitionRefusal? {
        if let closing { return .closing(closing) }
        if recovery != nil { return .recovering }
        return nil
    }

    private mutating func queued() -> Enqueued {
        let full = queuedBytes >= limits.queuedBytesPerPartition
        guard !writing else { return .queued(startWriter: false, full: full) }
        writing = true
        return .queued(startWriter: true, full: full)
    }

    /// Keeps `room` until the queue is below its bound; false (complete it now) when it is, or
    /// when the partition closes (the next append says why).
    mutating func waitForRoom(_ room: Room) -> Bool {
        guard queuedBytes >= limits.queuedBytesPerPartition, closing == nil else { return false }
        roomWaiters.append(room)
        return true
    }

    /// Producers waiting for room, once the queue is below its bound again (or closed for good).
    private mutating func takeRoom() -> [Room] {
        guard !roomWaiters.isEmpty, queuedBytes < limits.queuedBytesPerPartition || closing != nil else { return [] }
        defer { roomWaiters = [] }
        return roomWaiters
    }

    /// Everything queued and the batch in flight, which fail together; the queue is empty after.
    private mutating func takeAllQueued() -> Failed {
        var failed = Failed(records: pending, commits: pendingCommits)
        if let inFlight {
            failed.records = inFlight.records + failed.records
            failed.commits = inFlight.commits + failed.commits
            self.inFlight = nil
        }
        pending = []
        pendingCommits = []
        queuedBytes = 0
        assigned = durable
        return failed
    }

    // MARK: Cutting batches

    enum NextStep {
        case write(Batch)
        /// The queue is empty: the writer stops. `finishClose`: the partition is closing and the
        /// driver closes its files now.
        case idle(finishClose: Bool)
    }

    struct Taken {
        var step: NextStep
        /// Work failed because the topic was dropped.
        var dropped: Failed
        var room: [Room]
    }

    /// The writer's next step, once the batch in flight (if any) is written or rejected: a dropped
    /// partition fails all it holds; else everything queued, cut by `commitBatchRecords` and
    /// `commitBatchBytes` (at least one record), with every queued offset commit.
    mutating func nextBatch() -> Taken {
        precondition(writing, "a batch is taken only by the writer")
        precondition(inFlight == nil, "the next batch is cut once the one in flight is written or rejected")
        if closing == .dropped {
            let failed = takeAllQueued()
            writing = false
            return Taken(step: .idle(finishClose: true), dropped: failed, room: takeRoom())
        }
        guard !pending.isEmpty || !pendingCommits.isEmpty else {
            writing = false
            return Taken(step: .idle(finishClose: closing != nil), dropped: Failed(), room: [])
        }
        var count = 0
        var bytes = 0
        for record in pending {
            if count > 0 && (count >= limits.commitBatchRecords || bytes + record.byteCount > limits.commitBatchBytes) { break }
            count += 1
            bytes += record.byteCount
        }
        queuedBytes -= bytes
        let records: [Record]
        if count == pending.count {
            records = pending
            pending = []
            pending.reserveCapacity(records.count)
        } else {
            records = Array(pending[..<count])
            pending.removeFirst(count)
        }
        let batch = Batch(first: assigned, records: records, commits: pendingCommits)
        pendingCommits = []
        assigned = batch.next
        inFlight = batch
        return Taken(step: .write(batch), dropped: Failed(), room: takeRoom())
    }

    // MARK: Written

    struct BatchWritten {
        /// The batch now durable: its acks=leader records complete.
        var durable: Batch
        /// Batches now committed, oldest first: their acks=all records and offset commits complete.
        var committed: [Batch]
        /// Long polls whose record is now committed.
        var woken: [Waiter]
    }

    /// The batch in flight is fsynced.
    mutating func batchWritten() -> BatchWritten {
        guard let batch = inFlight, writing else { preconditionFailure("no batch is being written") }
        precondition(batch.first == durable, "batch at \(batch.first) written after durable \(durable)")
        inFlight = nil
        durable = batch.next
        awaitingCommit.append(batch)
        guard commitFollowsDurable else { return BatchWritten(durable: batch, committed: [], woken: []) }
        let advanced = commitAdvanced(to: durable)
        return BatchWritten(durable: batch, committed: advanced.committed, woken: advanced.woken)
    }

    struct CommitAdvanced {
        var committed: [Batch] = []
        var woken: [Waiter] = []
    }

    /// Records below `index` are committed (on one broker at once after `batchWritten`; with
    /// Raft, when the commit index moves). Never moves back. With Raft `index` may be past
    /// `durable`: records another leader wrote into this replica's file (it followed), which are
    /// durable here, since a replica applies only what it persisted; `durable` (and `assigned`)
    /// move up to it when no batch is in flight (else `committed` waits at `durable` until the
    /// batch is placed and written). Without it (`commitFollowsDurable`), `index` is never past
    /// `durable`.
    mutating func commitAdvanced(to index: Offset) -> CommitAdvanced {
        // Not while a batch is in flight: its own records may be what committed before all its
        // entries were reported durable, and `placed(at:)` moves `durable` for a new leader anyway.
        if !commitFollowsDurable && index > durable && inFlight == nil {
            durable = index
            assigned = max(assigned, index)
        }
        let target = min(index, durable)
        let moved = target > committed
        if moved { committed = target }
        var done = CommitAdvanced()
        // A batch of only offset commits holds no offsets (`next == first`): it is committed
        // with the records before it, so it is taken even when the watermark did not move.
        var taken = 0
        while taken < awaitingCommit.count && awaitingCommit[taken].next <= committed { taken += 1 }
        guard taken > 0 || moved else { return done }
        if taken == awaitingCommit.count {
            done.committed = awaitingCommit
            awaitingCommit = []
        } else {
            done.committed = Array(awaitingCommit[..<taken])
            awaitingCommit.removeFirst(taken)
        }
        if moved { done.woken = takeWaiters(below: committed) }
        return done
    }

    /// The replica placed the batch in flight at `offset`, the end of its log (docs/replication.md
    /// §4): where its records go. Usually where the batch was cut; it differs after a change of
    /// leader, when this replica's log holds records another leader wrote (the batch moves up to
    /// follow them) or lost records of its own that the new leader replaced (the batch moves down;
    /// the durable batches past `offset` were never committed and are returned to fail).
    mutating func placed(at offset: Offset) -> [Batch] {
        guard var batch = inFlight, writing else { preconditionFailure("no batch is in flight") }
        precondition(offset >= committed, "a batch placed at \(offset), below the committed \(committed)")
        guard offset != batch.first else { return [] }
        var replaced: [Batch] = []
        while let last = awaitingCommit.last, last.next > offset {
            replaced.insert(awaitingCommit.removeLast(), at: 0)
        }
        batch = Batch(first: offset, records: batch.records, commits: batch.commits)
        inFlight = batch
        durable = offset
        assigned = batch.next
        return replaced
    }

    /// The durable batch placed at `first` will not be reported committed by its replica (its
    /// entry was replaced by another leader's, or no quorum took it in time): it is taken out of
    /// the batches waiting for the commit index, which could otherwise pass its offsets with
    /// another leader's records and complete it. Nil when no such batch waits (already done).
    mutating func abandonAwaiting(first: Offset) -> Batch? {
        guard let position = awaitingCommit.firstIndex(where: { $0.first == first }) else { return nil }
        return awaitingCommit.remove(at: position)
    }

    /// Durable batches still waiting for their commit, taken at a close (their outcome is unknown).
    mutating func takeAwaitingCommit() -> [Batch] {
        defer { awaitingCommit = [] }
        return awaitingCommit
    }

    /// The batch in flight was not written and fails alone (a damaged file, an offline
    /// partition); its offsets are given again.
    mutating func batchRejected() -> Batch {
        guard let batch = inFlight, writing else { preconditionFailure("no batch is being written") }
        inFlight = nil
        assigned = durable
        return batch
    }

    // MARK: Waiting for records

    /// Keeps `waiter` until a record at or after `after` is committed; nil (complete it now) when
    /// one is, or the partition closes. The id cancels the wait.
    mutating func waitForRecords(after offset: Offset, _ waiter: Waiter) -> Int? {
        guard committed <= offset, closing == nil else { return nil }
        let id = nextWaiterID
        nextWaiterID += 1
        waiters[id] = (offset, waiter)
        return id
    }

    mutating func cancelWait(_ id: Int) -> Waiter? {
        waiters.removeValue(forKey: id)?.waiter
    }

    /// In the order they began (a dictionary's order must not drive behaviour).
    private mutating func takeWaiters(below high: Offset) -> [Waiter] {
        guard !waiters.isEmpty else { return [] }
        var woken: [(id: Int, waiter: Waiter)] = []
        for (id, entry) in waiters where entry.after < high { woken.append((id, entry.waiter)) }
        for entry in woken { waiters.removeValue(forKey: entry.id) }
        return woken.sorted { $0.id < $1.id }.map(\.waiter)
    }

    private mutating func takeAllWaiters() -> [Waiter] {
        takeWaiters(below: Offset(Int64.max))
    }

    // MARK: Closing and offline

    enum Closing {
        /// A close was asked before: the driver joins it.
        case already
        /// `finishNow`: no writer runs, the driver closes the files now (it owns them meanwhile);
        /// else the writer finishes the close when it stops. `recoverNow`: run this recovery
        /// attempt at once instead of waiting for its timer.
        case started(woken: [Waiter], room: [Room], finishNow: Bool, recoverNow: Int?)
    }

    /// Stops taking work. `.shutdown` lets queued work be written first; `.dropped` fails it.
    /// Waiters are woken (they find the partition closed).
    mutating func close(_ reason: PartitionCloseReason) -> Closing {
        guard closing == nil else { return .already }
        closing = reason
        let woken = takeAllWaiters()
        let room = takeRoom()
        // A recovery waiting for its timer runs now and finishes the close, instead of
        // holding the shutdown or the drop for up to `writeRecoveryRetryMs`.
        let recoverNow = recovery?.hurry()
        if writing { return .started(woken: woken, room: room, finishNow: false, recoverNow: recoverNow) }
        writing = true  // the close itself holds the store
        return .started(woken: woken, room: room, finishNow: true, recoverNow: nil)
    }

    /// The file is damaged: the partition serves nothing more. `first` is false when it was
    /// offline already (it is logged once).
    mutating func takeOffline(_ reason: OfflineReason) -> (first: Bool, woken: [Waiter]) {
        guard offline == nil else { return (false, []) }
        offline = reason
        return (true, takeAllWaiters())
    }
}


// MARK: A failed write and the way back

/// A failed write and the way back (issue 10 item 9; `PartitionLog+Recovery.swift` drives it and
/// says why): the decisions only, with `WriteRecovery` counting attempts and tickets.
extension PartitionState {
    struct Stopped {
        /// The batch whose write failed (`ERR STORAGE`).
        var batch: Batch
        /// Everything queued behind it (`ERR PARTITION_OFFLINE ... recovering`).
        var queued: Failed
        var room: [Room]
        /// The first offset of the failed write: no record at or past it was acknowledged.
        var failedFirst: Offset
        /// The first recovery attempt, to run from a timer.
        var next: (ticket: Int, delayMs: Int64)
    }

    /// The replica's own write failed with none of this partition's batches in flight (a
    /// follower's append of its leader's entries, a leader's no-op) at `nowNs`: as `writeFailed`,
    /// with no batch to fail. Nil when a batch is in flight (its own failure stops the partition)
    /// or a recovery runs already, or a writer is cutting one (its proposal will fail the same).
    /// The recovery owns the writer from here, as after `writeFailed`.
    mutating func replicaWriteFailed(nowNs: UInt64) -> Stopped? {
        guard inFlight == nil, !writing, recovery == nil, offline == nil, closing == nil else { return nil }
        writing = true
        return stopForRecovery(failed: Batch(first: durable, records: [], commits: []), nowNs: nowNs)
    }

    /// The batch in flight failed to be written (not a lock, not a damaged file) at `nowNs`: the
    /// partition takes no work until it has recovered. The writer stays owned by the recovery.
    mutating func writeFailed(nowNs: UInt64) -> Stopped {
        let batch = batchRejected()
        precondition(batch.first == durable, "a failed batch starts at the durable watermark")
        return stopForRecovery(failed: batch, nowNs: nowNs)
    }

    /// Takes everything queued and every producer waiting for room, and starts the recovery
    /// from the durable watermark.
    private mutating func stopForRecovery(failed batch: Batch, nowNs: UInt64) -> Stopped {
        let queued = Failed(records: pending, commits: pendingCommits)
        pending = []
        pendingCommits = []
        queuedBytes = 0
        let room = takeRoomAfterStop()
        var recovery = WriteRecovery(failedFirst: durable, sinceNs: nowNs)
        let next = recovery.scheduleNext(limitMs: limits.writeRecoveryRetryMs)
        self.recovery = recovery
        return Stopped(batch: batch, queued: queued, room: room, failedFirst: durable, next: next)
    }

    /// Every producer waiting for room: the queue is empty now.
    private mutating func takeRoomAfterStop() -> [Room] {
        defer { roomWaiters = [] }
        return roomWaiters
    }

    /// Attempt `ticket` begins, when it is the one awaited: the failed write's first offset and
    /// whether the partition is closing meanwhile.
    mutating func beginRecovery(ticket: Int) -> (failedFirst: Offset, closing: PartitionCloseReason?)? {
        guard var recovery, recovery.begin(ticket: ticket) else { return nil }
        self.recovery = recovery
        return (recovery.failedFirst, closing)
    }

    /// True once an attempt found the reopened file sound (true too when no recovery runs).
    var recoveryFileChecked: Bool { recovery?.fileChecked ?? true }

    mutating func recoveryChecked() { recovery?.checked() }

    /// An attempt found `count` records at or past the failed write's first offset.
    mutating func recoveryFound(_ count: Int64) { recovery?.found(count) }

    /// The file is clean again and holds `earliest ..< next`: writes are taken again. Returns the
    /// recovery that ended (for the log line). The writer stays set: the driver runs the flush
    /// loop once more (it ends it, or finishes a close that came meanwhile).
    ///
    /// `replicated`: the partition has other replicas, and the file ends where this replica's
    /// last successful write left it (what it told the others it holds), committed or not; the
    /// committed watermark then moves only with the replica's commits.
    mutating func recovered(earliest: Offset, next: Offset, replicated: Bool = false) -> WriteRecovery {
        guard let recovery else { preconditionFailure("recovered without a recovery") }
        precondition(replicated || next == recovery.failedFirst, "a recovered file ends where the failed write began")
        precondition(inFlight == nil && pending.isEmpty, "nothing is queued while writes are stopped")
        self.earliest = earliest
        assigned = next
        durable = next
        if !replicated { committed = max(committed, next) }
        self.recovery = nil
        return recovery
    }

    enum AttemptFailed {
        /// Try again: attempt `ticket` after `delayMs`; `attempts` so far.
        case retry(ticket: Int, delayMs: Int64, attempts: Int)
        /// The partition closes meanwhile: the close goes on without a recovered file.
        case closing
        /// No recovery runs (it ended meanwhile).
        case none
    }

    /// An attempt could not reopen, check or clean the file (the disk still fails).
    mutating func recoveryAttemptFailed() -> AttemptFailed {
        if closing != nil { return .closing }
        guard var recovery else { return .none }
        let next = recovery.scheduleNext(limitMs: limits.writeRecoveryRetryMs)
        self.recovery = recovery
        return .retry(ticket: next.ticket, delayMs: next.delayMs, attempts: recovery.attempts)
    }

    /// The recovery found the file damaged: it ends, and the partition is offline
    /// (`takeOffline`, which the driver calls first with the file's error).
    mutating func recoveryAbandoned() {
        recovery = nil
    }
}

extension PartitionState: Sendable where Record: Sendable, Commit: Sendable, Waiter: Sendable, Room: Sendable {}
extension PartitionBatch: Sendable where Record: Sendable, Commit: Sendable {}
extension FailedWork: Sendable where Record: Sendable, Commit: Sendable {}
