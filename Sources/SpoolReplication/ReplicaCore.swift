import Raft
import SpoolCluster
import SpoolCore
import SpoolStorage

/// Sends one group's outgoing Raft messages (the broker's `ReplicaRouter`, over the peer
/// transport). Called on the driver's storage thread: it must queue and return, never block.
public protocol RaftMessageSender: Sendable {
    func send(_ messages: [Message], group: RaftGroupID)
}

/// Told, in order, every entry the group committed and the new high watermark; on the driver's
/// storage thread, after the entries' records are in the file. It must hand off and return.
public typealias ReplicaApply = @Sendable (_ committed: [Entry], _ highWatermark: Offset) -> Void

/// A produce batch waiting for the driver's next cycle, with the callback of its events.
struct PendingProposal: Sendable {
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

    struct Waiter {
        var term: Term
        var firstOffset: Offset
        var deadlineTick: Int
        var durable = false
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
        // whatever the file says is committed is applied already. Starting from the snapshot
        // instead would read every retained record back out of SQLite at each start.
        let applied = max(store.hardState().commit, store.firstIndex() - 1)
        raft.appliedIndex = applied
        node = RaftNode(config: raft, storage: storage, random: Raft.SplitMix64(seed: config.randomSeed))
        highWatermark = store.expectedOffset(forEntryAt: applied + 1) ?? .zero
        lastStamp = store.lastRecordTimestamp() ?? TimestampMs(0)
    }

    var status: ReplicaStatus {
        ReplicaStatus(
            role: node.role, term: node.term, leader: node.leader, commitIndex: node.commitIndex, lastIndex: node.lastIndex,
            highWatermark: highWatermark, pendingProposals: waiters.count, writes: writes, syncedWrites: syncedWrites, ticks: ticks,
            stopped: false, storageFailure: storageFailure)
    }

    /// Ticks the driver may hold back before it must run a cycle: the node's next timer
    /// (`RaftNode.ticksUntilTimerFires`), every tick while a proposal waits (its `.noQuorum`
    /// deadline is counted in ticks), and at most `maxHeldTicks`.
    var ticksUntilDue: Int {
        guard storageFailure == nil else { return .max }
        guard waiters.isEmpty else { return 1 }
        return min(node.ticksUntilTimerFires, config.maxHeldTicks)
    }

    // MARK: Inputs

    func step(_ messages: [Message]) {
        for message in messages { node.step(message) }
    }

    /// Advances logical time; proposals past their deadline fail with `.noQuorum`.
    func tick(_ count: Int) {
        guard count > 0 else { return }
        for _ in 0 ..< count { node.tick() }
        ticks += count
        guard !waiters.isEmpty else { return }
        for (index, waiter) in waiters where waiter.deadlineTick <= ticks {
            waiters[index] = nil
            waiter.events(.failed(.noQuorum(waitedTicks: config.proposalTimeoutTicks)))
        }
    }

    func transferLeadership(to transferee: NodeID) { node.transferLeadership(to: transferee) }

    func campaign() { node.campaign() }

    /// Proposes every batch as one Raft entry each, in one `propose` (one Ready, one fsync): the
    /// leader places each batch at the offsets after the records of its whole log (committed or
    /// not, durable or not), so offsets stay gap-free; followers store them as given.
    func propose(_ proposals: [PendingProposal]) {
        guard !proposals.isEmpty else { return }
        if let refusal = refusal() { return fail(proposals, refusal) }
        let start = currentLogEnd()
        // Reading the log end may have run a Ready, and a Ready can end a leadership or fail a write.
        if let storageFailure { return fail(proposals, .storageFailed(storageFailure)) }
        if let refusal = refusal() { return fail(proposals, refusal) }
        var next = start.nextOffset
        let stamp = TimestampMs(max(config.clockMs(), lastStamp.rawValue))
        var entries: [Proposal] = []
        entries.reserveCapacity(proposals.count)
        var firstOffsets: [Offset] = []
        firstOffsets.reserveCapacity(proposals.count)
        for proposal in proposals {
            var payload = proposal.payload
            guard let header = RecordBatch.place(&payload, firstOffset: next, timestamp: stamp) else {
                preconditionFailure("\(group): a ProduceBatch payload is not a RecordBatch")
            }
            firstOffsets.append(next)
            next = header.endOffset
            entries.append(Proposal(kind: .record, payload: payload))
        }
        let placed: (term: Term, indexes: ClosedRange<LogIndex>)
        do {
            placed = try node.propose(entries)
        } catch {
            return fail(proposals, Self.replicaError(error))
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
        while storageFailure == nil && node.hasReady {
            let ready = node.ready()
            let previousLast = store.lastIndex()
            if ready.needsPersistence {
                do {
                    try storage.persist(ready)
                } catch {
                    return failStorage(error)
                }
                writes += 1
                if ready.mustSync { syncedWrites += 1 }
            }
            notePersisted(ready.entries, previousLast: previousLast)
            if !ready.messages.isEmpty { sender.send(ready.messages, group: group) }
            apply(ready.committedEntries)
            node.advance(ready)
        }
    }

    /// A write failed: the replica stops right here. Nothing of the Ready is acted on (§3: its
    /// messages may promise what is not durable, a vote or an append acknowledgement; its
    /// commits may rest on it), and the node is never advanced, so it has no further Ready.
    /// Every waiting proposal fails: its outcome is unknown (other replicas may commit it).
    private func failStorage(_ error: RaftStorageError) {
        let description: String =
            switch error {
            case .writeFailed(let text): text
            default: "\(error)"
            }
        storageFailure = description
        logEnd = nil
        failAll(.storageFailed(description))
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
        // The caller checks `storageFailure` before using what this returns.
        if storageFailure != nil { return LogEnd(index: node.lastIndex, entryTerm: node.lastTerm, leaderTerm: node.term, nextOffset: .zero) }
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
