import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Raft
import SpoolCluster
import SpoolCore
import SpoolStorage

/// Runs one Raft group's replica on this broker for real: the serial owner of one `RaftNode` and
/// the `RaftLogStore` of its partition file (docs/replication.md §11).
///
/// Threads. Everything that touches the node or SQLite runs in *cycles* on a storage thread of
/// `pool` (shared with other replicas), one cycle at a time for this replica: inputs (messages
/// from the router, ticks from the broker's `ReplicaTicker`, proposals from any thread) only go
/// into a locked mailbox, and the first input into an idle mailbox submits a cycle — except a
/// tick, which waits in the mailbox until the node has a timer due (`ReplicaTicker`). A cycle takes
/// everything queued, so every proposal that arrived while the previous cycle was writing
/// shares the next `Ready`: one transaction and one fsync (group commit). No event loop ever
/// waits for SQLite; a cycle that finds more work queued submits the next one instead of
/// looping, so one busy replica cannot starve the others on the pool.
///
/// Events of proposals and the apply callback run on the storage thread: they must hand off
/// (complete a promise, resume a continuation) and return.
///
/// A write to the file that fails (`RaftStorageError.writeFailed`) stops the replica where it is:
/// nothing of that `Ready` is sent, applied or reported, every proposal fails with
/// `.storageFailed`, and the status says why (docs/replication.md §11). `stop()` still closes it.
public final class ReplicaDriver: Sendable {
    public let group: RaftGroupID
    public let node: NodeID
    private let config: ReplicaConfig
    private let pool: NIOThreadPool
    private let ticker: ReplicaTicker
    private let mailbox = NIOLockedValueBox(Mailbox())
    private let published: NIOLockedValueBox<ReplicaStatus>
    /// Touched only inside a cycle (the mailbox's `running` flag makes cycles serial); nil once stopped.
    private let core: CoreBox

    private struct Mailbox {
        var messages: [Message] = []
        /// Ticks received before the first queued message (every held tick when none is queued),
        /// and after it: a cycle gives the node the first, then the messages, then the second.
        var ticksBefore = 0
        var ticksAfter = 0
        /// Held ticks that need a cycle although nothing else came: the node's next timer, as
        /// `ReplicaCore.ticksUntilDue` said after the last cycle.
        var dueTicks = 1
        /// Every tick the ticker posted (for the status and tests).
        var receivedTicks = 0
        var proposals: [PendingProposal] = []
        var proposalBytes = 0
        var transfer: NodeID?
        var campaign = false
        /// A member broker's liveness changed (`ReplicaTicker`): the next cycle wakes the core if
        /// it is quiesced (a no-op otherwise). Set whether or not the group looks quiet now, so a
        /// cycle that quiesces while the change is seen still has a cycle after it that wakes.
        var wake = false
        /// Proposals queued here plus those the core waits on (as of its last cycle).
        var waiting = 0
        var running = false
        var stopRequested: EventLoopPromise<Void>?
        var stopped = false
        /// Set once a write failed (or waited too long for a lock): inputs are refused with it,
        /// only `stop()` still runs a cycle.
        var storageFailure: ReplicaError?

        var heldTicks: Int { ticksBefore + ticksAfter }

        var needsCycle: Bool {
            if storageFailure != nil { return stopRequested != nil }
            return !messages.isEmpty || heldTicks >= dueTicks || !proposals.isEmpty || transfer != nil || campaign || wake
                || stopRequested != nil
        }

        /// What a refused input is told.
        var closedError: ReplicaError { stopped ? .stopped : storageFailure ?? .stopped }
    }

    /// One cycle's inputs, taken out of the mailbox.
    private struct Work {
        var messages: [Message]
        var ticksBefore: Int
        var ticksAfter: Int
        var proposals: [PendingProposal]
        var transfer: NodeID?
        var campaign: Bool
        var wake: Bool
        var stop: EventLoopPromise<Void>?
    }

    private final class CoreBox: @unchecked Sendable {
        var core: ReplicaCore?
        /// Whether the ticker was last told the group is quiet (cycles only).
        var toldQuiet = false
        init(_ core: ReplicaCore) { self.core = core }
    }

    /// Set by `stop(abandon: true)`: the file is closed without a checkpoint.
    private let abandonOnStop = NIOLockedValueBox(false)

    private init(core: ReplicaCore, config: ReplicaConfig, pool: NIOThreadPool, ticker: ReplicaTicker) {
        self.group = core.group
        self.node = config.raft.id
        self.config = config
        self.pool = pool
        self.ticker = ticker
        self.core = CoreBox(core)
        self.published = NIOLockedValueBox(core.status)
    }

    /// Opens (creating if needed) the partition database at `path`, migrated to the partition
    /// schema, on a storage thread of `pool`, builds the node from it and registers with `ticker`
    /// (the broker's clock). The group's outgoing messages go to `sender`; committed entries to
    /// `onApply`. Register the driver with the broker's `ReplicaRouter` to give it its incoming
    /// messages.
    public static func open(
        path: String, group: RaftGroupID, config: ReplicaConfig, pool: NIOThreadPool, ticker: ReplicaTicker,
        sender: any RaftMessageSender, onApply: @escaping ReplicaApply = { _, _ in }
    ) async throws -> ReplicaDriver {
        try await open(path: path, group: group, config: config, pool: pool, ticker: ticker, sender: sender, onApply: onApply) { _ in }
    }

    /// `open`, with `prepare` run on the new store before the node is built (tests inject faults).
    static func open(
        path: String, group: RaftGroupID, config: ReplicaConfig, pool: NIOThreadPool, ticker: ReplicaTicker,
        sender: any RaftMessageSender, onApply: @escaping ReplicaApply, prepare: @escaping @Sendable (RaftLogStore) -> Void
    ) async throws -> ReplicaDriver {
        let box = try await pool.runIfActive { () throws -> CoreBox in
            CoreBox(try core(path: path, group: group, config: config, sender: sender, onApply: onApply, prepare: prepare))
        }
        return started(box.core!, config: config, pool: pool, ticker: ticker)
    }

    /// `open`, on the calling thread, which must be a thread of `pool` (a broker opening its
    /// partitions at start). `prepare` sees the store before the node is built.
    public static func openNow(
        path: String, group: RaftGroupID, config: ReplicaConfig, pool: NIOThreadPool, ticker: ReplicaTicker,
        sender: any RaftMessageSender, onApply: @escaping ReplicaApply, prepare: @escaping @Sendable (RaftLogStore) -> Void = { _ in }
    ) throws -> ReplicaDriver {
        let core = try core(path: path, group: group, config: config, sender: sender, onApply: onApply, prepare: prepare)
        return started(core, config: config, pool: pool, ticker: ticker)
    }

    /// A driver over a store opened by the caller (the recovery after a failed write reopens and
    /// cleans the file first), on a thread of `pool`.
    public static func openNow(
        store: RaftLogStore, group: RaftGroupID, config: ReplicaConfig, pool: NIOThreadPool, ticker: ReplicaTicker,
        sender: any RaftMessageSender, onApply: @escaping ReplicaApply
    ) throws -> ReplicaDriver {
        try checkVoters(of: store, config: config)
        let core = ReplicaCore(store: store, group: group, config: config, sender: sender, onApply: onApply)
        return started(core, config: config, pool: pool, ticker: ticker)
    }

    /// The store must name the voters this start was given: membership is static.
    private static func checkVoters(of store: RaftLogStore, config: ReplicaConfig) throws {
        let stored = (try? store.snapshot().voters) ?? []
        guard stored == config.raft.voters.sorted() else {
            throw StorageError(
                code: -1, message: "\(store.connection.path): the group's voters are \(stored), not \(config.raft.voters) (membership is static)")
        }
    }

    private static func core(
        path: String, group: RaftGroupID, config: ReplicaConfig, sender: any RaftMessageSender, onApply: @escaping ReplicaApply,
        prepare: @escaping @Sendable (RaftLogStore) -> Void
    ) throws -> ReplicaCore {
        let store = try RaftLogStore.openPartition(path: path, voters: config.raft.voters, busyWaitMs: config.storeBusyWaitMs)
        prepare(store)
        do {
            try checkVoters(of: store, config: config)
        } catch {
            store.connection.close()
            throw error
        }
        return ReplicaCore(store: store, group: group, config: config, sender: sender, onApply: onApply)
    }

    private static func started(_ core: ReplicaCore, config: ReplicaConfig, pool: NIOThreadPool, ticker: ReplicaTicker) -> ReplicaDriver {
        let driver = ReplicaDriver(core: core, config: config, pool: pool, ticker: ticker)
        // A group of one needs nobody's vote: it leads at once instead of after an election
        // timeout, so a single broker's partitions take writes as soon as they are open.
        let new = core.status.term == Term(0) && core.status.lastIndex == LogIndex(0)
        if config.raft.voters == [config.raft.id] || (config.campaignWhenNew && new) { driver.post { $0.campaign = true } }
        ticker.register(driver)
        return driver
    }

    /// What the replica published after its last cycle.
    public var status: ReplicaStatus { published.withLockedValue { $0 } }

    /// Ticks the ticker posted to this driver so far (held or given to the node).
    public var receivedTicks: Int { mailbox.withLockedValue { $0.receivedTicks } }

    // MARK: Inputs

    /// One tick from the ticker (on its event loop), with whether one of the group's voters'
    /// brokers changed its liveness since the last (`wake`). Held in the mailbox unless the node
    /// has a timer due or it wakes; true when it submitted a cycle.
    func tick(wake: Bool = false) -> Bool {
        let start: Bool = mailbox.withLockedValue { mailbox in
            guard !mailbox.stopped, mailbox.storageFailure == nil else { return false }
            mailbox.receivedTicks += 1
            if wake { mailbox.wake = true }
            if mailbox.messages.isEmpty { mailbox.ticksBefore += 1 } else { mailbox.ticksAfter += 1 }
            guard !mailbox.running, mailbox.needsCycle else { return false }
            mailbox.running = true
            return true
        }
        if start { submitCycle() }
        return start
    }

    /// Whether one of the group's voters is in `peers`.
    func hasVoter(in peers: Set<NodeID>) -> Bool { config.raft.voters.contains(where: peers.contains) }

    /// The ticker saw a change of a voter's broker's liveness while the group was quiet (not ticked).
    func wake() {
        post { $0.wake = true }
    }

    /// Messages the router received for this group (from any thread); dropped beyond
    /// `maxQueuedMessages` or once stopped (Raft resends what matters).
    public func deliver(_ messages: [Message]) {
        guard !messages.isEmpty else { return }
        let limit = config.maxQueuedMessages
        post { mailbox in
            let room = max(0, limit - mailbox.messages.count)
            mailbox.messages.append(contentsOf: messages.prefix(room))
        }
    }

    /// Proposes `records` as one Raft entry; `events` hears what becomes of it (`ProposalEvent`),
    /// on the storage thread — except `.overloaded` (beyond `maxPendingProposals`), `.stopped`
    /// (after `stop()`) and `.storageFailed` (after a failed write), which fail it at once on the
    /// caller's thread. A follower fails it with `.notLeader` in its next cycle.
    public func propose(records: ProduceBatch, _ events: @escaping @Sendable (ProposalEvent) -> Void) {
        precondition(records.count > 0, "a produce batch without records")
        propose(PendingProposal(payload: records.unplacedPayload(), count: records.count, events: events))
    }

    /// Proposes one entry of a kind that takes no offsets (offset commits, written into
    /// `consumer_offsets` on every replica as the entry commits, before its `.committed` event;
    /// the metadata group's commands as `.configuration`),
    /// stored with its payload as it is. Events as for records, with the offset the log ends at.
    public func propose(entry kind: EntryKind, payload: [UInt8], _ events: @escaping @Sendable (ProposalEvent) -> Void) {
        precondition(kind != .record && kind != .noOp, "records go through ProduceBatch; no-ops are the node's")
        propose(PendingProposal(kind: kind, payload: payload, count: 0, events: events))
    }

    /// Proposes `records` and then an entry without offsets (a produce batch's offset commits)
    /// in one post to the mailbox, so both are in the same cycle: one `Ready`, one transaction,
    /// one fsync. Each hears its own events; both are refused together.
    public func propose(
        records: ProduceBatch, _ recordEvents: @escaping @Sendable (ProposalEvent) -> Void, thenEntry kind: EntryKind, payload: [UInt8],
        _ entryEvents: @escaping @Sendable (ProposalEvent) -> Void
    ) {
        precondition(records.count > 0, "a produce batch without records")
        precondition(kind != .record && kind != .noOp, "records go through ProduceBatch; no-ops are the node's")
        propose([
            PendingProposal(payload: records.unplacedPayload(), count: records.count, events: recordEvents),
            PendingProposal(kind: kind, payload: payload, count: 0, events: entryEvents),
        ])
    }

    private func propose(_ proposal: PendingProposal) {
        propose([proposal])
    }

    /// Queues `proposals` together (all or none), in order.
    private func propose(_ proposals: [PendingProposal]) {
        let limit = config.maxPendingProposals
        var refused: ReplicaError?
        let posted = post { mailbox in
            guard mailbox.waiting + proposals.count <= limit else {
                refused = .overloaded
                return
            }
            mailbox.waiting += proposals.count
            mailbox.proposals.append(contentsOf: proposals)
            mailbox.proposalBytes += proposals.reduce(0) { $0 + $1.payload.count }
        }
        if !posted {
            let error = mailbox.withLockedValue { $0.closedError }
            for proposal in proposals { proposal.events(.failed(error)) }
        } else if let refused {
            for proposal in proposals { proposal.events(.failed(refused)) }
        }
    }

    /// Proposes `records` and returns their first offset once `acks` is reached: `.all` at the
    /// commit, `.leader` at the leader's fsync, `.none` once the leader gave them offsets.
    public func propose(records: ProduceBatch, acks: Acks = .all) async throws(ReplicaError) -> Offset {
        let once = NIOLockedValueBox<CheckedContinuation<Result<Offset, ReplicaError>, Never>?>(nil)
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Offset, ReplicaError>, Never>) in
            once.withLockedValue { $0 = continuation }
            propose(records: records) { event in
                let outcome: Result<Offset, ReplicaError>? =
                    switch (event, acks) {
                    case (.failed(let error), _): .failure(error)
                    case (.accepted(let offset), .none), (.durable(let offset), .leader), (.committed(let offset), .all): .success(offset)
                    default: nil
                    }
                guard let outcome else { return }
                once.withLockedValue { $0.take() }?.resume(returning: outcome)
            }
        }
        return try result.get()
    }

    /// Hands leadership to `transferee` (thesis §3.10), e.g. before this broker shuts down.
    public func transferLeadership(to transferee: NodeID) {
        post { $0.transfer = transferee }
    }

    /// Unregisters from the ticker, fails every pending proposal with `.stopped`, and closes the
    /// database once the cycle in progress (if any) has finished. Later inputs are dropped.
    ///
    /// `abandon`: close the file without a checkpoint (after a failed write its state is unknown;
    /// the WAL stays for the next open to replay). Otherwise the WAL is checkpointed first.
    public func stop(abandon: Bool = false) async {
        try? await stopping(abandon: abandon).get()
    }

    /// `stop`, for callers without Swift concurrency (the engine's storage threads): the future
    /// succeeds, on the ticker's event loop, once the file is closed.
    public func stopping(abandon: Bool = false) -> EventLoopFuture<Void> {
        if abandon { abandonOnStop.withLockedValue { $0 = true } }
        ticker.unregister(self)
        let eventLoop = ticker.eventLoop
        let (done, start) = mailbox.withLockedValue { mailbox -> (EventLoopFuture<Void>?, Bool) in
            if let requested = mailbox.stopRequested { return (requested.futureResult, false) }
            // Stopped without a request: the pool shut down under the driver (`abandon`), or
            // the file was closed after a failed write (`closeAfterFailure`).
            if mailbox.stopped { return (nil, false) }
            let promise = eventLoop.makePromise(of: Void.self)
            mailbox.stopRequested = promise
            let start = !mailbox.running
            mailbox.running = true
            return (promise.futureResult, start)
        }
        if start { submitCycle() }
        return done ?? eventLoop.makeSucceededVoidFuture()
    }

    /// After a write failed (`status.storageFailure` set), on a thread of the pool: closes the
    /// file without a checkpoint at once and returns the last index a successful write left
    /// (`ReplicaStatus.durableIndex`: nothing after it was ever reported durable). Nil while the
    /// failing cycle is still running (ask again later), or when no write failed.
    public func closeAfterFailure() -> LogIndex? {
        let close: Bool? = mailbox.withLockedValue { mailbox in
            guard mailbox.storageFailure != nil else { return nil }
            if mailbox.stopped { return false }
            guard !mailbox.running else { return nil }
            mailbox.stopped = true
            mailbox.running = true
            return true
        }
        guard let close else { return nil }
        if close {
            ticker.unregister(self)
            abandonOnStop.withLockedValue { $0 = true }
            finish(nil)
        }
        let status = status
        return status.stopped ? status.durableIndex : nil
    }

    // MARK: Cycles

    /// Adds to the mailbox and starts a cycle if none is running. False once stopped (nothing added).
    @discardableResult
    private func post(_ add: (inout Mailbox) -> Void) -> Bool {
        let start: Bool? = mailbox.withLockedValue { mailbox in
            guard !mailbox.stopped else { return nil }
            guard mailbox.storageFailure == nil else { return nil }
            add(&mailbox)
            guard !mailbox.running, mailbox.needsCycle else { return false }
            mailbox.running = true
            return true
        }
        guard let start else { return false }
        if start { submitCycle() }
        return true
    }

    private func submitCycle() {
        pool.submit { state in
            switch state {
            case .active: self.cycle()
            case .cancelled: self.abandon()
            }
        }
    }

    /// Runs the next cycle after `delayMs`, from a timer (a write waits for another
    /// connection's lock); the mailbox stays `running` meanwhile, so inputs only queue.
    private func scheduleRetry(afterMs delayMs: Int64) {
        ticker.eventLoop.scheduleTask(in: .milliseconds(delayMs)) { self.submitCycle() }
    }

    private func cycle() {
        if let core = core.core, core.isBlocked, mailbox.withLockedValue({ $0.stopRequested == nil }) {
            // Only the blocked write is tried; the mailbox's inputs wait for it.
            core.handleReadies()
            if core.isBlocked {
                let status = core.status
                published.withLockedValue { $0 = status }
                return scheduleRetry(afterMs: core.retryDelayMs)
            }
        }
        let byteLimit = config.maxProposalBytesPerCycle
        let work = mailbox.withLockedValue { mailbox in
            var proposals: [PendingProposal] = []
            if mailbox.proposalBytes <= byteLimit {
                swap(&proposals, &mailbox.proposals)
                mailbox.proposalBytes = 0
            } else {
                var bytes = 0
                let cut = mailbox.proposals.firstIndex { proposal in
                    bytes += proposal.payload.count
                    return bytes > byteLimit
                }
                let taken = max(1, cut ?? mailbox.proposals.count)
                proposals = Array(mailbox.proposals.prefix(taken))
                mailbox.proposals.removeFirst(taken)
                mailbox.proposalBytes -= proposals.reduce(0) { $0 + $1.payload.count }
            }
            let work = Work(
                messages: mailbox.messages, ticksBefore: mailbox.ticksBefore, ticksAfter: mailbox.ticksAfter, proposals: proposals,
                transfer: mailbox.transfer, campaign: mailbox.campaign, wake: mailbox.wake, stop: mailbox.stopRequested)
            mailbox.messages = []
            mailbox.wake = false
            mailbox.ticksBefore = 0
            mailbox.ticksAfter = 0
            mailbox.transfer = nil
            mailbox.campaign = false
            if work.stop != nil { mailbox.stopped = true }
            return work
        }
        if let stop = work.stop {
            for proposal in work.proposals { proposal.events(.failed(.stopped)) }
            finish(stop)
            return
        }
        guard let core = core.core else { return }
        var deferred: [PendingProposal] = []
        if core.storageFailure == nil {
            // Held ticks came before the messages (a vote's leader-lease check reads the elapsed
            // time), so the node sees time and messages in the order they arrived.
            // The ticks held while quiesced are ignored by the core; a wake comes after them, so
            // a woken follower's election timer starts from now, not from when it went quiet. And
            // after the messages: a quiesce heartbeat stepped in this cycle must not outlast a
            // liveness change seen since (its leader may be the broker that went away).
            core.tick(work.ticksBefore)
            core.step(work.messages)
            if work.wake { core.wake() }
            core.tick(work.ticksAfter)
            if work.campaign { core.campaign() }
            if let transferee = work.transfer { core.transferLeadership(to: transferee) }
            deferred = core.propose(work.proposals)
            core.handleReadies()
            if work.ticksBefore + work.ticksAfter > 0 { core.quiesceIfIdle() }
            core.observeLeadership()
        } else {
            for proposal in work.proposals { proposal.events(.failed(core.storageError ?? .storageFailed(core.storageFailure!))) }
        }
        let blocked = core.isBlocked
        let failure = core.storageError
        let status = core.status
        let due = core.ticksUntilDue
        published.withLockedValue { $0 = status }
        // Told while this cycle still holds the mailbox's `running` flag, so the ticker hears
        // the group's transitions in the order the cycles made them.
        if status.quiesced != self.core.toldQuiet {
            self.core.toldQuiet = status.quiesced
            ticker.setQuiet(self, status.quiesced)
        }
        let (again, refused) = mailbox.withLockedValue { mailbox -> (Bool, [PendingProposal]) in
            if !deferred.isEmpty {
                mailbox.proposals.insert(contentsOf: deferred, at: 0)
                mailbox.proposalBytes += deferred.reduce(0) { $0 + $1.payload.count }
            }
            mailbox.waiting = mailbox.proposals.count + status.pendingProposals
            mailbox.dueTicks = due
            var refused: [PendingProposal] = []
            if let failure, mailbox.storageFailure == nil {
                mailbox.storageFailure = failure
                swap(&refused, &mailbox.proposals)
                mailbox.proposalBytes = 0
                mailbox.messages = []
                mailbox.ticksBefore = 0
                mailbox.ticksAfter = 0
                mailbox.transfer = nil
                mailbox.campaign = false
            }
            // A blocked write keeps the mailbox running: its timer runs the next cycle.
            if blocked && mailbox.storageFailure == nil { return (false, refused) }
            if !mailbox.needsCycle {
                mailbox.running = false
                return (false, refused)
            }
            return (true, refused)
        }
        if blocked && failure == nil { scheduleRetry(afterMs: core.retryDelayMs) }
        if let failure {
            for proposal in refused { proposal.events(.failed(failure)) }
            // A replica that cannot write has no use for time: no election, no heartbeat.
            ticker.unregister(self)
            // Its followers may be quiesced, waiting on a leader that is gone.
            core.announceStopped()
            config.onStorageFailure?(core.storageFailure ?? "\(failure)")
        }
        if again { submitCycle() }
    }

    /// The last cycle: fail what waits, close the file, tell `stop()`.
    private func finish(_ stop: EventLoopPromise<Void>?) {
        let queued = mailbox.withLockedValue { mailbox -> [PendingProposal] in
            defer { mailbox.proposals = [] }
            return mailbox.proposals
        }
        for proposal in queued { proposal.events(.failed(.stopped)) }
        var last = core.core
        core.core = nil
        if let core = last {
            core.failAll(.stopped)
            if !abandonOnStop.withLockedValue({ $0 }) { core.flushDeferredHardState() }
            var status = core.status
            status.stopped = true
            published.withLockedValue { $0 = status }
            let connection = core.store.connection
            // The node, the store and its prepared statements go first: closing after them closes
            // the file at once (with statements alive SQLite would keep it open, locked, until
            // they are released), so a restart can open it as soon as `stop()` returns.
            last = nil
            if abandonOnStop.withLockedValue({ $0 }) {
                connection.abandon()
            } else if core.storageFailure == nil {
                // The WAL's contents go into the database file (waiting a moment for a reader),
                // so a stopped partition is one file.
                try? connection.setPragma("busy_timeout", "2000")
                try? connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            }
            connection.close()
        }
        stop?.succeed()
    }

    /// The pool shut down under the driver: nothing can run any more.
    private func abandon() {
        let (queued, stop) = mailbox.withLockedValue { mailbox -> ([PendingProposal], EventLoopPromise<Void>?) in
            mailbox.stopped = true
            defer { mailbox.proposals = [] }
            return (mailbox.proposals, mailbox.stopRequested)
        }
        for proposal in queued { proposal.events(.failed(.stopped)) }
        // Not unregistered here: this may run inside the ticker's round (a tick's submission to
        // a pool that is shut down runs it at once), under the ticker's lock. The mailbox is
        // stopped, so ticks are ignored; `stop()` unregisters.
        stop?.succeed()
    }
}
