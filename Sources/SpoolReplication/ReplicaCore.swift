import Raft
import SpoolCluster
import SpoolCore
import SpoolStorage

/// Sends one group's outgoing Raft messages (the broker's `ReplicaRouter`, over the peer
/// transport). Called on the driver's storage thread: it must queue and return, never block.
public protocol RaftMessageSender: Sendable {
    func send(_ messages: [Message], group: RaftGroupID)
    /// Whether `peer`'s broker is live now (connected and heard from lately): a leader quiesces
    /// only with every live follower caught up, and never without a live majority.
    func isLive(_ peer: NodeID) -> Bool
    /// A replica here stopped or failed (its peers' quiesced groups must wake: `PeerFrame.keepalive`).
    func replicaStopped(_ group: RaftGroupID)
}

extension RaftMessageSender {
    /// Senders without a notion of liveness (tests, a cluster of one): nobody is live, so no
    /// group quiesces.
    public func isLive(_ peer: NodeID) -> Bool { false }
    public func replicaStopped(_ group: RaftGroupID) {}
}

/// Told, in order, every entry the group committed and the new high watermark; on the driver's
/// storage thread, after the entries' records are in the file. It must hand off and return.
public typealias ReplicaApply = @Sendable (_ committed: [Entry], _ highWatermark: Offset) -> Void

/// A produce batch waiting for the driver's next cycle, with the callback of its events.
struct PendingProposal: Sendable {
    /// `.record` (a `ProduceBatch` payload, placed by the leader) or `.offsetCommit`.
    var kind: EntryKind = .record
    var payload: [UInt8]
    var count: Int
    var events: @Sendable (ProposalEvent) -> Void
}

/// The synchronous heart of one replica: a `RaftNode` over its `RaftLogStore`, the offsets the
/// leader assigns, and the proposals waiting for their commit. It has no threads, timers or
/// queues of its own: `ReplicaDriver` calls it from one storage thread at a time, and everything
/// here (SQLite included) runs on that thread.
///
/// Each cycle of the driver is: `step` the received messages, `tick`, `propose` the queued
/// batches, `handleReadies`. Proposals come after the messages so that a leader's new entries and
/// the commit index its followers' answers moved share one `Ready`: one transaction, one fsync.
final class ReplicaCore {
    let group: RaftGroupID
    private(set) var node: RaftNode
    let store: RaftLogStore
    /// The node's view of `store`, with the entries persisted and not yet applied in memory.
    private let storage: ReplicaStorage
    private let config: ReplicaConfig
    private let sender: any RaftMessageSender
    private let onApply: ReplicaApply

    /// Proposals accepted into the log, by Raft index, until they commit or fail.
    private var waiters: [LogIndex: Waiter] = [:]
    private var ticks = 0
    /// Where the leader's next batch starts: valid while the log still ends at `index` with the
    /// entry of `entryTerm` and this node leads in `leaderTerm` (otherwise read again from storage).
    private var logEnd: LogEnd?
    /// The offset after the last committed record.
    private(set) var highWatermark: Offset
    /// The newest append timestamp given; new batches never get an earlier one.
    private var lastStamp: TimestampMs
    private(set) var writes = 0
    private(set) var syncedWrites = 0
    /// Why a write to the file failed; from then on the core does nothing (docs/replication.md §11).
    private(set) var storageFailure: String?
    /// What proposals fail with once `storageFailure` is set.
    private(set) var storageError: ReplicaError?
    /// A hard state whose only change is the commit index, kept for the next write instead of a
    /// transaction of its own. The Ready contract lets a commit index be lost (a restart learns
    /// it again from the leader, or, alone in its group, from its own log), and here nothing
    /// else rests on the stored one: records are written with their entries, offset commits
    /// carry their own applied mark (`RaftLogStore.applyOffsetCommits`), and a restart re-applies
    /// what it finds committed. A single voter thus writes one transaction per cycle for its
    /// records, not two. Written at a clean stop (`flushDeferredHardState`).
    private var deferredHardState: HardState?
    /// The group is quiet (`ReplicaConfig.quiesceWhenIdle`): ticks are not given to the node, so a
    /// leader sends no heartbeats and a follower's election timer stands still. Anything that
    /// needs the node to act (a proposal, a message other than the quiet exchange, sending
    /// anything but a heartbeat response, the driver's `wake`) ends it.
    private(set) var quiesced = false
    /// The leadership as last observed (`observeLeadership`).
    private var seenTerm = Term(0)
    private var seenLeader = NodeID.none

    /// A `Ready` whose write found the file locked by another connection (`RaftStorageError.busy`):
    /// nothing of that write happened, so it is tried again, as it was, before anything else
    /// happens (the node is not advanced meanwhile, so it has no other Ready). Either its persist
    /// (nothing of the Ready acted on yet) or, once that went through and its messages were sent,
    /// the apply of its offset commits.
    private var blocked: Blocked?

    struct Blocked {
        var ready: Ready
        var previousLast: LogIndex
        var sinceNs: UInt64
        var attempts: Int
        /// The Ready is persisted and sent; what waits is `RaftLogStore.applyOffsetCommits`.
        var persisted: Bool
    }

    struct Waiter {
        var term: Term
        var firstOffset: Offset
        var deadlineTick: Int
        var durable = false
        /// Accepted by this replica as leader, which it no longer is: past its deadline it fails
        /// with `.notLeader` rather than `.noQuorum`.
        var deposed = false
        var events: @Sendable (ProposalEvent) -> Void
    }

    struct LogEnd {
        var index: LogIndex
        var entryTerm: Term
        var leaderTerm: Term
        var nextOffset: Offset
    }

    init(store: RaftLogStore, group: RaftGroupID, config: ReplicaConfig, sender: any RaftMessageSender, onApply: @escaping ReplicaApply) {
        self.store = store
        self.storage = ReplicaStorage(store: store, maxBytes: config.maxUnappliedCacheBytes)
        self.group = group
        self.config = config
        self.sender = sender
        self.onApply = onApply
        var raft = config.raft
        // The records are the state machine, and they are written when their entry is persisted:
        // whatever the file says is committed is applied already; so are its offset commits (the
        // store applied those above its mark as it opened). Starting from the snapshot instead
        // would read every retained record back out of SQLite at each start.
        let applied = max(store.hardState().commit, store.firstIndex() - 1)
        raft.appliedIndex = applied
        node = RaftNode(config: raft, storage: storage, random: Raft.SplitMix64(seed: config.randomSeed))
        highWatermark = store.expectedOffset(forEntryAt: applied + 1) ?? .zero
        lastStamp = store.lastRecordTimestamp() ?? TimestampMs(0)
    }

    var status: ReplicaStatus {
        ReplicaStatus(
            role: node.role, term: node.term, leader: node.leader, commitIndex: node.commitIndex, lastIndex: node.lastIndex,
            durableIndex: store.lastIndex(), nextOffset: store.nextOffset ?? highWatermark, highWatermark: highWatermark, pendingProposals: waiters.count, writes: writes, syncedWrites: syncedWrites, ticks: ticks,
            stopped: false, storageFailure: storageFailure, blocked: blocked != nil, inSync: inSync, quiesced: quiesced,
            committedInTerm: leaderCommittedInTerm)
    }

    /// The term in which this leader has committed an entry of its own (it stays so for the
    /// term, so the log is read once per term, not once per cycle).
    private var committedTerm: Term?

    private var leaderCommittedInTerm: Bool {
        guard node.role == .leader else { return false }
        if committedTerm == node.term { return true }
        guard node.term(at: node.commitIndex) == node.term else { return false }
        committedTerm = node.term
        return true
    }

    /// On a leader, the voters whose log holds every committed entry (itself included): Kafka's
    /// in-sync replicas. Empty elsewhere: only the leader knows its followers' progress.
    private var inSync: [NodeID] {
        guard node.role == .leader else { return [] }
        let commit = node.commitIndex
        return node.voters.filter { voter in
            voter == node.id ? store.lastIndex() >= commit : (node.progress(of: voter)?.match ?? .zero) >= commit
        }
    }

    /// True while a Ready waits for another connection's lock (see `blocked`): the driver gives
    /// the core nothing else and runs its next cycle from a timer, `retryDelayMs` later.
    var isBlocked: Bool { blocked != nil }

    /// 1, 2, 4 … 64 ms between attempts of a blocked write.
    var retryDelayMs: Int64 { Int64(1) << min(max((blocked?.attempts ?? 1) - 1, 0), 6) }

    /// Ticks the driver may hold back before it must run a cycle: the node's next timer
    /// (`RaftNode.ticksUntilTimerFires`), every tick while a proposal waits (its `.noQuorum`
    /// deadline is counted in ticks), and at most `maxHeldTicks`.
    var ticksUntilDue: Int {
        guard storageFailure == nil, !quiesced else { return .max }
        guard waiters.isEmpty else { return 1 }
        return min(node.ticksUntilTimerFires, config.maxHeldTicks)
    }

    // MARK: Inputs

    func step(_ messages: [Message]) {
        for message in messages {
            if quiesced && !keepsQuiet(message) { quiesced = false }
            node.step(message)
            if message.quiesce && message.kind == .heartbeat { quiesceAsFollower(after: message) }
        }
    }

    /// Advances logical time; proposals past their deadline fail with `.noQuorum`. Ignored while
    /// quiesced: that time passed with the group known idle and every replica caught up.
    func tick(_ count: Int) {
        guard count > 0, !quiesced else { return }
        for _ in 0 ..< count { node.tick() }
        ticks += count
        guard !waiters.isEmpty else { return }
        for (index, waiter) in waiters where waiter.deadlineTick <= ticks {
            waiters[index] = nil
            waiter.events(.failed(waiter.deposed ? .notLeader(leaderHint: node.leader) : .noQuorum(waitedTicks: config.proposalTimeoutTicks)))
        }
    }

    func transferLeadership(to transferee: NodeID) {
        quiesced = false
        node.transferLeadership(to: transferee)
    }

    func campaign() {
        quiesced = false
        node.campaign()
    }

    /// After a cycle: tells `onLeadershipChange` of a new term or leader, and gives the
    /// proposals of a leadership just lost `deposedProposalTicks` more at most.
    func observeLeadership() {
        let term = node.term
        let leader = node.leader
        guard term != seenTerm || leader != seenLeader else { return }
        let wasLeader = seenLeader == node.id
        let previous = seenLeader
        seenTerm = term
        seenLeader = leader
        if wasLeader && leader != node.id && !waiters.isEmpty {
            // Only waits the deposal cuts short fail as not the leader; one due sooner keeps its
            // own deadline and reason.
            let deadline = ticks + config.deposedProposalTicks
            for (index, waiter) in waiters where waiter.deadlineTick > deadline {
                waiters[index]!.deadlineTick = deadline
                waiters[index]!.deposed = true
            }
        }
        config.onLeadershipChange?(
            LeadershipChange(term: term, role: node.role, leader: leader, previousLeader: previous, waitingProposals: waiters.count))
    }

    // MARK: Quiescence

    /// Ends quiescence (a member broker's liveness changed: its replica may be gone, or back).
    ///
    /// A follower also wakes its leader, which may still be quiet: otherwise a short stall of the
    /// leader's broker (keepalives late past the liveness timeout, the group otherwise fine) would
    /// leave the followers ticking towards an election while the leader sends nothing. It says
    /// so with an append acknowledgement of its commit index: harmless to the leader's view (every
    /// committed entry is in its log; a lower match than known is ignored), and not one of the
    /// messages that keep a leader quiet.
    func wake() {
        guard quiesced else { return }
        quiesced = false
        guard node.role == .follower, node.leader != .none, node.leader != node.id else { return }
        sender.send([Message(kind: .appendResponse, from: node.id, to: node.leader, term: node.term, index: node.commitIndex)], group: group)
    }

    /// This replica stopped after a failed write: the peers hear it (`RaftMessageSender.replicaStopped`).
    func announceStopped() { sender.replicaStopped(group) }

    /// Messages a quiet group exchanges without waking: a leader's followers answering its quiesce
    /// heartbeats, and a follower hearing one again.
    private func keepsQuiet(_ message: Message) -> Bool {
        guard message.term == node.term else { return false }
        switch node.role {
        case .leader: return message.kind == .heartbeatResponse
        case .follower: return message.kind == .heartbeat && message.quiesce && message.from == node.leader
        case .candidate, .preCandidate: return false
        }
    }

    /// A follower told by its leader that the group is idle quiesces when its log ends exactly
    /// at the commit the leader named and it knows that commit: nothing is then missing or
    /// pending here; and when the leader's broker is live now (a heartbeat that waited in a
    /// stalled connection says nothing of a leader gone since). Otherwise it keeps its timer
    /// (and, if the leader stays quiet, its election timeout's pre-vote wakes the leader).
    private func quiesceAsFollower(after message: Message) {
        guard config.quiesceWhenIdle, storageFailure == nil, blocked == nil, node.role == .follower, node.term == message.term,
            node.leader == message.from, node.lastIndex == message.commit, node.commitIndex == message.commit,
            sender.isLive(message.from)
        else { return }
        quiesced = true
    }

    /// After a cycle that gave the node ticks: a leader with nothing in flight, its whole log
    /// committed in its own term, and every live follower holding all of it (with a live majority,
    /// so a leader cut off from its group keeps ticking and steps down by check-quorum) tells its
    /// live followers to quiesce and goes quiet itself. Followers not live now are not told; when
    /// they come back, the change of their liveness wakes the group.
    func quiesceIfIdle() {
        guard config.quiesceWhenIdle, !quiesced, storageFailure == nil, blocked == nil, waiters.isEmpty, node.role == .leader,
            node.leadTransferee == .none, !node.hasReady, node.commitIndex == node.lastIndex, node.term(at: node.lastIndex) == node.term
        else { return }
        var live: [NodeID] = []
        for voter in node.voters where voter != node.id {
            guard sender.isLive(voter) else { continue }
            guard let progress = node.progress(of: voter), progress.state == .replicate, progress.match == node.lastIndex else { return }
            live.append(voter)
        }
        guard live.count + 1 > node.voters.count / 2 else { return }
        quiesced = true
        let commit = node.commitIndex
        let term = node.term
        let from = node.id
        sender.send(live.map { Message(kind: .heartbeat, from: from, to: $0, term: term, commit: commit, quiesce: true) }, group: group)
    }

    /// Proposes every batch as one Raft entry each, in one `propose` (one Ready, one fsync): the
    /// leader places each batch at the offsets after the records of its whole log (committed or
    /// not, durable or not), so offsets stay gap-free; followers store them as given. An entry
    /// of another kind (offset commits) takes no offset and is stored as it is.
    ///
    /// Returns the proposals it could not take yet because a write waits for the file's lock
    /// (`isBlocked`): the driver queues them again, first.
    func propose(_ proposals: [PendingProposal]) -> [PendingProposal] {
        guard !proposals.isEmpty else { return [] }
        if blocked != nil { return proposals }
        quiesced = false
        if let refusal = refusal() {
            fail(proposals, refusal)
            return []
        }
        let start = currentLogEnd()
        // Reading the log end may have run a Ready, and a Ready can end a leadership or fail a write.
        if blocked != nil { return proposals }
        if let failure = storageError {
            fail(proposals, failure)
            return []
        }
        if let refusal = refusal() {
            fail(proposals, refusal)
            return []
        }
        var next = start.nextOffset
        let stamp = TimestampMs(max(config.clockMs(), lastStamp.rawValue))
        var entries: [Proposal] = []
        entries.reserveCapacity(proposals.count)
        var firstOffsets: [Offset] = []
        firstOffsets.reserveCapacity(proposals.count)
        for proposal in proposals {
            firstOffsets.append(next)
            guard proposal.kind == .record else {
                entries.append(Proposal(kind: proposal.kind, payload: proposal.payload))
                continue
            }
            var payload = proposal.payload
            guard let header = RecordBatch.place(&payload, firstOffset: next, timestamp: stamp) else {
                preconditionFailure("\(group): a ProduceBatch payload is not a RecordBatch")
            }
            next = header.endOffset
            entries.append(Proposal(kind: .record, payload: payload))
        }
        let placed: (term: Term, indexes: ClosedRange<LogIndex>)
        do {
            placed = try node.propose(entries)
        } catch {
            fail(proposals, Self.replicaError(error))
            return []
        }
        lastStamp = stamp
        let deadline = ticks + config.proposalTimeoutTicks
        for (position, proposal) in proposals.enumerated() {
            let index = placed.indexes.lowerBound + position
            // A waiter left at this index belonged to an entry of an earlier term that this
            // leader's log no longer holds.
            waiters[index]?.events(.failed(.superseded))
            waiters[index] = Waiter(term: placed.term, firstOffset: firstOffsets[position], deadlineTick: deadline, events: proposal.events)
            proposal.events(.accepted(firstOffsets[position]))
        }
        logEnd = LogEnd(index: placed.indexes.upperBound, entryTerm: placed.term, leaderTerm: placed.term, nextOffset: next)
        return []
    }

    /// Writes the hard state kept back by `deferredHardState` (a clean stop), best effort: what
    /// the file then says is committed is what was.
    func flushDeferredHardState() {
        guard storageFailure == nil, let state = deferredHardState else { return }
        if (try? store.setHardState(state)) != nil { deferredHardState = nil }
    }

    /// Fails every waiting proposal (the driver is stopping).
    func failAll(_ error: ReplicaError) {
        let failed = waiters.sorted { $0.key < $1.key }
        waiters = [:]
        for (_, waiter) in failed { waiter.events(.failed(error)) }
    }

    // MARK: The Ready loop

    /// Handles every Ready the node has, each in the contract's order (docs/replication.md §3):
    /// persist (one transaction; fsync when `mustSync`), then send, then apply, then advance.
    func handleReadies() {
        while storageFailure == nil {
            let ready: Ready
            let previousLast: LogIndex
            var persisted = false
            if let waiting = blocked {
                (ready, previousLast, persisted) = (waiting.ready, waiting.previousLast, waiting.persisted)
            } else {
                guard node.hasReady else { return }
                (ready, previousLast) = (node.ready(), store.lastIndex())
            }
            if !persisted {
                guard persistAndSend(ready, previousLast: previousLast) else { return }
            }
            // The offset commits go into consumer_offsets before anyone hears of their commit: a
            // COMMIT's OK means the position is readable here. Not synced: the entries are, and
            // if a crash loses this the store applies them again as it opens (those the file says
            // are committed) or Raft hands them out again (the others).
            do {
                if try store.applyOffsetCommits(ready.committedEntries) { writes += 1 }
            } catch .busy {
                return noteBlocked(ready, previousLast: previousLast, persisted: true)
            } catch {
                blocked = nil
                return failStorage(error)
            }
            blocked = nil
            apply(ready.committedEntries)
            node.advance(ready)
        }
    }

    /// Steps 1 and 2 of `ready`: persists it and sends its messages. False when the write failed
    /// or found the file locked (the loop stops there).
    private func persistAndSend(_ ready: Ready, previousLast: LogIndex) -> Bool {
        if ready.needsPersistence {
            if !ready.mustSync && ready.entries.isEmpty && ready.snapshot == nil {
                // Only the commit index moved: no transaction of its own (see `deferredHardState`).
                deferredHardState = ready.hardState
            } else {
                var write = ready
                if write.hardState == nil { write.hardState = deferredHardState }
                do {
                    try storage.persist(write)
                } catch .busy {
                    noteBlocked(ready, previousLast: previousLast, persisted: false)
                    return false
                } catch {
                    blocked = nil
                    failStorage(error)
                    return false
                }
                deferredHardState = nil
                writes += 1
                if ready.mustSync { syncedWrites += 1 }
            }
        }
        blocked = nil
        notePersisted(ready.entries, previousLast: previousLast)
        if !ready.messages.isEmpty {
            if quiesced && ready.messages.contains(where: { $0.kind != .heartbeatResponse }) { quiesced = false }
            sender.send(ready.messages, group: group)
        }
        return true
    }

    /// A write failed: the replica stops right here. Nothing more of the Ready is acted on (§3:
    /// a failed persist's messages may promise what is not durable, a vote or an append
    /// acknowledgement; its commits may rest on it; after a failed apply nobody hears of the
    /// commit), and the node is never advanced, so it has no further Ready.
    /// Every waiting proposal fails: its outcome is unknown (other replicas may commit it).
    private func failStorage(_ error: RaftStorageError) {
        let description: String =
            switch error {
            case .writeFailed(let text): text
            default: "\(error)"
            }
        failStorage(description, .storageFailed(description))
    }

    private func failStorage(_ description: String, _ error: ReplicaError) {
        storageFailure = description
        storageError = error
        logEnd = nil
        failAll(error)
    }

    /// A write of `ready` found the file locked: it is tried again from the driver's timer
    /// until `lockWaitMs`, then the replica stops taking writes as after a failed write (that
    /// write never happened, so nothing that rests on it is acted on either way).
    private func noteBlocked(_ ready: Ready, previousLast: LogIndex, persisted: Bool) {
        let now = WallClock.monotonicNs()
        if blocked == nil { config.onLocked?() }
        var waiting = blocked ?? Blocked(ready: ready, previousLast: previousLast, sinceNs: now, attempts: 0, persisted: persisted)
        waiting.attempts += 1
        let waitedMs = Int64((now - waiting.sinceNs) / 1_000_000)
        guard waitedMs < config.lockWaitMs else {
            blocked = nil
            return failStorage("the file stayed locked by another connection for \(waitedMs) ms", .locked(waitedMs: waitedMs))
        }
        blocked = waiting
    }

    /// `durable` for this node's proposals now on disk; `superseded` for those a truncation removed.
    private func notePersisted(_ entries: [Entry], previousLast: LogIndex) {
        guard !waiters.isEmpty, let first = entries.first, let last = entries.last else { return }
        if first.index <= previousLast {
            for (index, waiter) in waiters where index >= first.index {
                let kept = index <= last.index && entries[index.distance(from: first.index)].term == waiter.term
                if !kept {
                    waiters[index] = nil
                    waiter.events(.failed(.superseded))
                }
            }
        }
        for entry in entries {
            guard var waiter = waiters[entry.index], waiter.term == entry.term, !waiter.durable else { continue }
            waiter.durable = true
            waiters[entry.index] = waiter
            waiter.events(.durable(waiter.firstOffset))
        }
    }

    private func apply(_ committed: [Entry]) {
        guard !committed.isEmpty else { return }
        for entry in committed {
            if entry.kind == .record {
                guard let header = entry.payload.withUnsafeBytes({ RecordBatch.header(of: $0) }) else {
                    preconditionFailure("\(group): committed entry \(entry.index) of kind record is not a RecordBatch")
                }
                precondition(header.firstOffset == highWatermark, "\(group): entry \(entry.index) commits offset \(header.firstOffset) after \(highWatermark)")
                highWatermark = header.endOffset
            }
            guard let waiter = waiters.removeValue(forKey: entry.index) else { continue }
            if waiter.term == entry.term {
                if !waiter.durable { waiter.events(.durable(waiter.firstOffset)) }
                waiter.events(.committed(waiter.firstOffset))
            } else {
                waiter.events(.failed(.superseded))
            }
        }
        storage.applied(through: committed[committed.count - 1].index)
        onApply(committed, highWatermark)
    }

    // MARK: Internals

    /// Why this node cannot take proposals now, or nil.
    private func refusal() -> ReplicaError? {
        guard node.role == .leader else { return .notLeader(leaderHint: node.leader) }
        guard node.leadTransferee == .none else { return .leadershipTransferInProgress }
        return nil
    }

    /// The log end the next batch follows. Known without any read while this leader's own
    /// proposals are the last entries; otherwise (a new term, the no-op a new leader appended,
    /// entries received as a follower) every pending Ready is persisted first and storage says.
    private func currentLogEnd() -> LogEnd {
        if let known = logEnd, known.leaderTerm == node.term, known.index == node.lastIndex, node.term(at: known.index) == known.entryTerm {
            return known
        }
        handleReadies()
        // The caller checks `storageFailure` and `blocked` before using what this returns.
        if storageFailure != nil || blocked != nil { return LogEnd(index: node.lastIndex, entryTerm: node.lastTerm, leaderTerm: node.term, nextOffset: .zero) }
        precondition(node.lastIndex == store.lastIndex(), "\(group): entries left unpersisted after the Ready loop")
        guard let next = store.expectedOffset(forEntryAt: node.lastIndex + 1) else {
            // No record stored: a new partition, or one that installed a snapshot. A snapshot's
            // data will say where offsets resume; until snapshots carry it they are never sent
            // (nothing compacts the log yet).
            precondition(store.firstIndex() == 1, "\(group): offsets after a snapshot install are not wired in yet")
            return remember(LogEnd(index: node.lastIndex, entryTerm: node.lastTerm, leaderTerm: node.term, nextOffset: .zero))
        }
        return remember(LogEnd(index: node.lastIndex, entryTerm: node.lastTerm, leaderTerm: node.term, nextOffset: next))
    }

    private func remember(_ end: LogEnd) -> LogEnd {
        logEnd = end
        return end
    }

    private func fail(_ proposals: [PendingProposal], _ error: ReplicaError) {
        for proposal in proposals { proposal.events(.failed(error)) }
    }

    static func replicaError(_ error: ProposalError) -> ReplicaError {
        switch error {
        case .notLeader(let hint): .notLeader(leaderHint: hint)
        case .leadershipTransferInProgress: .leadershipTransferInProgress
        case .empty: preconditionFailure("an empty proposal reached the Raft node")
        }
    }
}
