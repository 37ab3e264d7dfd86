import Raft

/// Everything that shapes a simulation run. Same options (seed included) ⇒ identical run.
public struct SimulationOptions: Sendable {
    public var seed: UInt64
    public var nodeCount: Int
    /// Ticks of the safety phase (faults active).
    public var safetyTicks: UInt64 = 400
    /// Ticks the cluster gets to converge after healing.
    public var livenessBudgetTicks: UInt64 = 600
    /// Per-message fault rates during the safety phase, per mille.
    public var lossPerMille: UInt64 = 50
    public var duplicationPerMille: UInt64 = 20
    /// Fraction of messages held back for a long time (reordering across elections), per mille.
    public var longDelayPerMille: UInt64 = 30
    /// Ordinary message delay, in ticks: uniform in `1 ... maxDelayTicks`.
    public var maxDelayTicks: UInt64 = 3
    /// Long message delay upper bound, in ticks.
    public var maxLongDelayTicks: UInt64 = 40
    /// Chance per tick that a leader receives a client proposal, per mille.
    public var proposalPerMille: UInt64 = 300
    /// Client backpressure: a leader takes no proposal while this many entries of its log are
    /// uncommitted. Without it a workload above what the flow limits carry (one entry per round
    /// trip in `tightFlow`) builds a backlog no liveness budget can drain; a broker needs the same
    /// limit (docs/replication.md §8.6).
    public var maxUncommittedEntries = 64
    /// Gap between scheduled faults, in ticks.
    public var minFaultGapTicks: UInt64 = 8
    public var maxFaultGapTicks: UInt64 = 40
    /// Retention: a node compacts its log once it holds more than this many applied entries.
    public var retainedEntriesLimit: Int = 48
    /// Entries kept behind the applied index when compacting.
    public var compactionLagEntries: Int = 8
    /// Trace events kept for a failure report.
    public var traceCapacity: Int = 400
    /// Bug injection for checker tests: of this many append messages per mille, the network
    /// damages one entry (appends a byte to its payload), as a transport without checksums would.
    public var corruptionPerMille: UInt64 = 0
    /// Raft limits used by every node, in ticks and entries.
    public var electionTimeoutTicks = 10
    public var heartbeatIntervalTicks = 2
    public var maxEntriesPerAppend = 8
    public var maxInflightAppendsPerFollower = 4
    public var snapshotRetryTicks = 20

    /// The fault profile these options were built from.
    public private(set) var profile: SimulationProfile

    /// Options for `seed`, shaped by the profile the seed selects (`SimulationProfile(seed:)`)
    /// unless `profile` is given.
    public init(seed: UInt64, nodeCount: Int, profile: SimulationProfile? = nil) {
        precondition(nodeCount >= 1, "a cluster needs at least one node")
        self.seed = seed
        self.nodeCount = nodeCount
        self.profile = profile ?? SimulationProfile(seed: seed)
        self.profile.apply(to: &self)
    }

    func raftConfig(id: NodeID, voters: [NodeID]) -> RaftConfig {
        var config = RaftConfig(id: id, voters: voters)
        config.electionTimeoutTicks = electionTimeoutTicks
        config.heartbeatIntervalTicks = heartbeatIntervalTicks
        config.maxEntriesPerAppend = maxEntriesPerAppend
        config.maxInflightAppendsPerFollower = maxInflightAppendsPerFollower
        config.snapshotRetryTicks = snapshotRetryTicks
        return config
    }
}
