import Raft
import SpoolCore

/// How one replica driver runs its Raft group. Every limit carries its unit in its name.
public struct ReplicaConfig: Sendable {
    /// The Raft node: this broker's id, the group's voters, election and heartbeat ticks.
    public var raft: RaftConfig
    /// Ticks a proposal may wait for its commit before it fails with `.noQuorum` (50 ticks = 5 s
    /// with `ReplicaTicker`'s 100 ms). The outcome is then unknown: the entry may still commit later.
    public var proposalTimeoutTicks: Int = 50
    /// Ticks an idle replica may hold back before a cycle hands them to its node although no timer
    /// is due (100 ticks = 10 s at 100 ms): a group alone in its group never needs a tick, and
    /// this bounds the catch-up loop of its next cycle (`RaftNode.ticksUntilTimerFires`).
    public var maxHeldTicks: Int = 100
    /// Proposals queued or waiting for their commit, beyond which new ones fail at once with
    /// `.overloaded` (the producer's backpressure; a leader that cannot commit must not grow).
    public var maxPendingProposals: Int = 4096
    /// Record-batch bytes taken into one Raft `propose` (one Ready, one transaction); the rest wait
    /// for the next cycle, so one transaction stays bounded however many producers wait.
    public var maxProposalBytesPerCycle: Int = 8 << 20
    /// Raft messages received and not yet stepped; beyond it new ones are dropped (Raft resends).
    public var maxQueuedMessages: Int = 65_536
    /// Entries persisted and not yet applied that the driver keeps in memory, in bytes, so a
    /// commit does not read its batches back out of the file (`ReplicaStorage`). Usually only
    /// what is between a cycle's fsync and its commit; beyond the bound entries are read back.
    public var maxUnappliedCacheBytes: UInt64 = 16 << 20
    /// How long a write may wait for another connection's lock on the partition file (an
    /// operator's sqlite3 shell without -readonly) before the replica gives up and stops taking
    /// writes (`ReplicaError.locked`), in milliseconds. Meanwhile the write is retried from a
    /// timer (1, 2, 4 … 64 ms apart) and no thread sleeps. Only for stores opened with
    /// `busyWaitMs` 0; the broker sets it from `SpoolLimits.partitionLockWaitMs`.
    public var lockWaitMs: Int64 = 30_000
    /// Campaign as soon as the replica opens when its log is new (term 0, no entries): set on a
    /// new partition's preferred leader, so the first election needs no election timeout and the
    /// placement's spread of leaders holds from the start.
    public var campaignWhenNew = false
    /// Let the group go quiet when idle (docs/replication.md, "Quiescence"): a leader whose every
    /// live follower holds the whole committed log tells them so and stops heartbeating; they stop
    /// their election timers. Any proposal, message or change of a member broker's liveness wakes
    /// it. Set by a broker in a cluster, where idle groups would otherwise cost a cycle and a
    /// message per follower every tick; without liveness from the sender
    /// (`RaftMessageSender.isLive`) nothing quiesces.
    public var quiesceWhenIdle = false
    /// Told (on the storage thread) when a write first finds the file locked, once per run of
    /// locked attempts: the broker logs it, naming the file.
    public var onLocked: (@Sendable () -> Void)?
    /// Told (on the storage thread, once) when a write to the file failed and the replica stopped,
    /// with why, after every proposal it held heard `.storageFailed`: the broker recovers the
    /// partition even when none of its own writes was in flight (a follower's append).
    public var onStorageFailure: (@Sendable (String) -> Void)?
    /// Told (on the storage thread) each time the replica's view of its group's leadership
    /// changes: a new term, a leader learned or lost. The broker logs it.
    public var onLeadershipChange: (@Sendable (LeadershipChange) -> Void)?
    /// Ticks a proposal this replica accepted as leader may still wait after it lost the
    /// leadership (10 ticks = 1 s): its entry is then either kept by the new leader (it commits
    /// here as a follower) or replaced (`.superseded`), and both are heard within a round trip
    /// of the new leader; past this it fails with `.notLeader` instead of holding its producer
    /// for the rest of `proposalTimeoutTicks`.
    public var deposedProposalTicks: Int = 10
    /// How long the store itself waits (sleeping) for a lock before it says busy
    /// (`RaftLogStore.busyWaitMs`): 0 for a broker's partitions, whose storage threads are shared.
    public var storeBusyWaitMs: Int32 = 10_000
    /// Seeds the node's randomized election timeouts (distinct per broker, or they campaign together).
    public var randomSeed: UInt64
    /// Milliseconds since the epoch; the leader stamps each batch's records with it (never earlier
    /// than the newest record already stored).
    public var clockMs: @Sendable () -> Int64 = { WallClock.nowMs() }

    public init(raft: RaftConfig, randomSeed: UInt64? = nil) {
        self.raft = raft
        self.randomSeed = randomSeed ?? (raft.id.rawValue &* 0x9E37_79B9_7F4A_7C15 ^ WallClock.monotonicNs())
    }
}

/// A change of a replica's view of its group's leadership (`ReplicaConfig.onLeadershipChange`).
public struct LeadershipChange: Hashable, Sendable {
    public var term: Term
    public var role: Role
    /// `NodeID.none` while no leader is known.
    public var leader: NodeID
    /// The leader before, `NodeID.none` if none was known.
    public var previousLeader: NodeID
    /// Proposals this replica had accepted as leader and still waits on (after losing it).
    public var waitingProposals: Int
}
