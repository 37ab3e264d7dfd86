/// Configuration of one Raft node. Every limit carries its unit in its name.
///
/// Defaults follow etcd-io/raft's recommendations (election timeout = 10 heartbeats).
public struct RaftConfig: Sendable {
    /// This node.
    public var id: NodeID
    /// The voting members, this node included. Static for now (see docs/replication.md).
    public var voters: [NodeID]
    /// Minimum ticks without hearing from a leader before a follower campaigns. Each election uses a
    /// random timeout in `[electionTimeoutTicks, 2 * electionTimeoutTicks)` (Raft §5.2). It is also
    /// the leader lease: a node that heard from a leader within this many ticks ignores (pre)votes
    /// (thesis §4.2.3), and the check-quorum period of a leader (thesis §6.2).
    public var electionTimeoutTicks: Int = 10
    /// Ticks between leader heartbeats. Must be smaller than `electionTimeoutTicks`.
    public var heartbeatIntervalTicks: Int = 1
    /// Maximum entries in one append message.
    public var maxEntriesPerAppend: Int = 256
    /// Maximum size of the entries in one append message, in bytes (`Entry.sizeBytes`); an entry
    /// larger than this is still sent alone.
    public var maxBytesPerAppend: UInt64 = 1 << 20
    /// Maximum append messages in flight (sent, not acknowledged) to one follower in the replicate
    /// state. A follower being probed has at most one.
    public var maxInflightAppendsPerFollower: Int = 64
    /// Maximum size of committed entries handed out in one `Ready`, in bytes (at least one entry).
    public var maxBytesPerCommittedBatch: UInt64 = 4 << 20
    /// Ticks a leader waits for a sent snapshot to be acknowledged before probing the follower
    /// again (etcd-io/raft relies on the application calling ReportSnapshot instead).
    public var snapshotRetryTicks: Int = 20
    /// Pre-vote (thesis §9.6): a node only bumps its term once a majority would vote for it.
    public var preVote: Bool = true
    /// Check quorum (thesis §6.2): a leader steps down after `electionTimeoutTicks` without hearing
    /// from a majority.
    public var checkQuorum: Bool = true
    /// Index the application's state machine has applied through, on restart. `nil`: the storage's
    /// snapshot index (the state machine is rebuilt from the snapshot and re-applies the log).
    public var appliedIndex: LogIndex?

    public init(id: NodeID, voters: [NodeID]) {
        self.id = id
        self.voters = voters.sorted()
    }

    /// Majority of the voters: the size of every quorum (Raft §5.2).
    public var quorumSize: Int { voters.count / 2 + 1 }

    func validate() {
        precondition(id != .none, "RaftConfig.id must not be NodeID.none")
        precondition(voters.contains(id), "RaftConfig.voters must contain this node")
        precondition(Set(voters).count == voters.count, "RaftConfig.voters has duplicates")
        precondition(!voters.contains(.none), "RaftConfig.voters must not contain NodeID.none")
        precondition(heartbeatIntervalTicks > 0, "heartbeatIntervalTicks must be positive")
        precondition(electionTimeoutTicks > heartbeatIntervalTicks,
                     "electionTimeoutTicks must exceed heartbeatIntervalTicks")
        precondition(maxEntriesPerAppend > 0, "maxEntriesPerAppend must be positive")
        precondition(maxBytesPerAppend > 0, "maxBytesPerAppend must be positive")
        precondition(maxInflightAppendsPerFollower > 0, "maxInflightAppendsPerFollower must be positive")
        precondition(snapshotRetryTicks > 0, "snapshotRetryTicks must be positive")
    }
}
