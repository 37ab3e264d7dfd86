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
/// from the router, ticks from a timer on an event loop, proposals from any thread) only go into
/// a locked mailbox, and the first input into an idle mailbox submits a cycle. A cycle takes
/// everything queued, so every proposal that arrived while the previous cycle was writing
/// shares the next `Ready`: one transaction and one fsync (group commit). No event loop ever
/// waits for SQLite; a cycle that finds more work queued submits the next one instead of
/// looping, so one busy replica cannot starve the others on the pool.
///
/// Events of proposals and the apply callback run on the storage thread: they must hand off
/// (complete a promise, resume a continuation) and return.
public final class ReplicaDriver: Sendable {
    public let group: RaftGroupID
    public let node: NodeID
    private let config: ReplicaConfig
    private let pool: NIOThreadPool
    private let eventLoop: any EventLoop
    private let mailbox = NIOLockedValueBox(Mailbox())
    private let published: NIOLockedValueBox<ReplicaStatus>
    /// Touched only inside a cycle (the mailbox's `running` flag makes cycles serial); nil once stopped.
    private let core: CoreBox
    private let ticker = NIOLockedValueBox<RepeatedTask?>(nil)

    private struct Mailbox {
        var messages: [Message] = []
        var ticks = 0
        var proposals: [PendingProposal] = []
        var proposalBytes = 0
        var transfer: NodeID?
        var campaign = false
        /// Proposals queued here plus those the core waits on (as of its last cycle).
        var waiting = 0
        var running = false
        var stopRequested: EventLoopPromise<Void>?
        var stopped = false

        var isEmpty: Bool {
            messages.isEmpty && ticks == 0 && proposals.isEmpty && transfer == nil && !campaign && stopRequested == nil
        }
    }

    /// One cycle's inputs, taken out of the mailbox.
    private struct Work {
        var messages: [Message]
        var ticks: Int
        var proposals: [PendingProposal]
        var transfer: NodeID?
        var campaign: Bool
        var stop: EventLoopPromise<Void>?
    }

    private final class CoreBox: @unchecked Sendable {
        var core: ReplicaCore?
        init(_ core: ReplicaCore) { self.core = core }
    }

    private init(core: ReplicaCore, config: ReplicaConfig, pool: NIOThreadPool, eventLoop: any EventLoop) {
        self.group = core.group
        self.node = config.raft.id
        self.config = config
        self.pool = pool
        self.eventLoop = eventLoop
        self.core = CoreBox(core)
        self.published = NIOLockedValueBox(core.status)
    }

    /// Opens (creating if needed) the partition database at `path`, migrated to the partition
    /// schema, on a storage thread of `pool`, builds the node from it and starts ticking every
    /// `config.tickIntervalMs` on `eventLoop`. The group's outgoing messages go to `sender`;
    /// committed entries to `onApply`. Register the driver with the broker's `ReplicaRouter`
    /// to give it its incoming messages.
    public static func open(
        path: String, group: RaftGroupID, config: ReplicaConfig, pool: NIOThreadPool, eventLoop: any EventLoop,
        sender: any RaftMessageSender, onApply: @escaping ReplicaApply = { _, _ in }
    ) async throws -> ReplicaDriver {
        let core = try await pool.runIfActive { () throws -> CoreBox in
            let store = try RaftLogStore.openPartition(path: path, voters: config.raft.voters)
            let stored = (try? store.snapshot().voters) ?? []
            guard stored == config.raft.voters.sorted() else {
                store.connection.close()
                throw StorageError(code: -1, message: "\(path): the group's voters are \(stored), not \(config.raft.voters) (membership is static)")
            }
            return CoreBox(ReplicaCore(store: store, group: group, config: config, sender: sender, onApply: onApply))
        }
        let driver = ReplicaDriver(core: core.core!, config: config, pool: pool, eventLoop: eventLoop)
        // A group of one needs nobody's vote: it leads at once instead of after an election
        // timeout, so a single broker's partitions take writes as soon as they are open.
        if config.raft.voters == [config.raft.id] { driver.post { $0.campaign = true } }
        let interval = TimeAmount.milliseconds(config.tickIntervalMs)
        driver.ticker.withLockedValue {
            $0 = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak driver] _ in
                driver?.post { $0.ticks += 1 }
            }
        }
        return driver
    }

    /// What the replica published after its last cycle.
    public var status: ReplicaStatus { published.withLockedValue { $0 } }

    // MARK: Inputs

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
    /// on the storage thread — except `.overloaded` (beyond `maxPendingProposals`) and `.stopped`
    /// (after `stop()`), which fail it at once on the caller's thread. A follower fails it with
    /// `.notLeader` in its next cycle.
    public func propose(records: ProduceBatch, _ events: @escaping @Sendable (ProposalEvent) -> Void) {
        precondition(records.count > 0, "a produce batch without records")
        let proposal = PendingProposal(payload: records.unplacedPayload(), count: records.count, events: events)
        let limit = config.maxPendingProposals
        var refused: ReplicaError?
        let posted = post { mailbox in
            guard mailbox.waiting < limit else {
                refused = .overloaded
                return
            }
            mailbox.waiting += 1
            mailbox.proposals.append(proposal)
            mailbox.proposalBytes += proposal.payload.count
        }
        if !posted { events(.failed(.stopped)) } else if let refused { events(.failed(refused)) }
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

    /// Stops ticking, fails every pending proposal with `.stopped`, and closes the database once
    /// the cycle in progress (if any) has finished. Later inputs are dropped.
    public func stop() async {
        ticker.withLockedValue { $0.take() }?.cancel()
        let (done, start) = mailbox.withLockedValue { mailbox -> (EventLoopFuture<Void>?, Bool) in
            if let requested = mailbox.stopRequested { return (requested.futureResult, false) }
            // Stopped without a request: the pool shut down under the driver (`abandon`).
            if mailbox.stopped { return (nil, false) }
            let promise = eventLoop.makePromise(of: Void.self)
            mailbox.stopRequested = promise
            let start = !mailbox.running
            mailbox.running = true
            return (promise.futureResult, start)
        }
        if start { submitCycle() }
        try? await done?.get()
    }

    // MARK: Cycles

    /// Adds to the mailbox and starts a cycle if none is running. False once stopped (nothing added).
    @discardableResult
    private func post(_ add: (inout Mailbox) -> Void) -> Bool {
        let start: Bool? = mailbox.withLockedValue { mailbox in
            guard !mailbox.stopped else { return nil }
            add(&mailbox)
            guard !mailbox.running, !mailbox.isEmpty else { return false }
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

    private func cycle() {
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
            let work = Work(messages: mailbox.messages, ticks: mailbox.ticks, proposals: proposals, transfer: mailbox.transfer, campaign: mailbox.campaign,
                stop: mailbox.stopRequested)
            mailbox.messages = []
            mailbox.ticks = 0
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
        core.step(work.messages)
        core.tick(work.ticks)
        if work.campaign { core.campaign() }
        if let transferee = work.transfer { core.transferLeadership(to: transferee) }
        core.propose(work.proposals)
        core.handleReadies()
        let status = core.status
        published.withLockedValue { $0 = status }
        let again = mailbox.withLockedValue { mailbox in
            mailbox.waiting = mailbox.proposals.count + status.pendingProposals
            if mailbox.isEmpty {
                mailbox.running = false
                return false
            }
            return true
        }
        if again { submitCycle() }
    }

    /// The last cycle: fail what waits, close the file, tell `stop()`.
    private func finish(_ stop: EventLoopPromise<Void>) {
        let queued = mailbox.withLockedValue { mailbox -> [PendingProposal] in
            defer { mailbox.proposals = [] }
            return mailbox.proposals
        }
        for proposal in queued { proposal.events(.failed(.stopped)) }
        var last = core.core
        core.core = nil
        if let core = last {
            core.failAll(.stopped)
            var status = core.status
            status.stopped = true
            published.withLockedValue { $0 = status }
            let connection = core.store.connection
            // The node, the store and its prepared statements go first: closing after them closes
            // the file at once (with statements alive SQLite would keep it open, locked, until
            // they are released), so a restart can open it as soon as `stop()` returns.
            last = nil
            connection.close()
        }
        stop.succeed()
    }

    /// The pool shut down under the driver: nothing can run any more.
    private func abandon() {
        let (queued, stop) = mailbox.withLockedValue { mailbox -> ([PendingProposal], EventLoopPromise<Void>?) in
            mailbox.stopped = true
            defer { mailbox.proposals = [] }
            return (mailbox.proposals, mailbox.stopRequested)
        }
        for proposal in queued { proposal.events(.failed(.stopped)) }
        stop?.succeed()
    }
}
