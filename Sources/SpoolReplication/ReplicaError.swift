import Raft

/// Why a proposal did not complete as committed. Values, not crashes: the partition log maps them
/// to wire errors (`notLeader` to a redirect or a forward, the others to `ERR UNAVAILABLE`).
public enum ReplicaError: Error, Hashable, Sendable, CustomStringConvertible {
    /// This replica is not the leader; `leaderHint` is the leader it knows of, or `NodeID.none`.
    case notLeader(leaderHint: NodeID)
    /// The leader is handing leadership over and takes no proposals until it is done.
    case leadershipTransferInProgress
    /// Not committed within `proposalTimeoutTicks`: no quorum answered in time. The outcome is
    /// unknown (the entry may still commit), so a producer that retries may write it twice.
    case noQuorum(waitedTicks: Int)
    /// The entry was replaced in the log by another leader's: it is certainly not committed.
    case superseded
    /// Too many proposals pending (`maxPendingProposals`): nothing was proposed.
    case overloaded
    /// The driver stopped before the proposal completed (its outcome is unknown if it was accepted).
    case stopped
    /// A write to this replica's partition file failed (the description says how), so the replica
    /// stopped taking writes (docs/replication.md §11). The outcome of a proposal accepted before
    /// is unknown: other replicas may hold it and a new leader may commit it.
    case storageFailed(String)
    /// Another connection (an operator's sqlite3 shell without -readonly) held the partition
    /// file's write lock for `ReplicaConfig.lockWaitMs`: the replica stopped taking writes, as
    /// after a failed write, and nothing of the waiting work was written.
    case locked(waitedMs: Int64)
    /// No outcome within the request's time limit (`--request-timeout-ms`): no leader, or no
    /// quorum, answered in time. The outcome is unknown.
    case timedOut(ms: Int64)
    /// Forwarding the proposal to the leader failed (the reason says how). The outcome is unknown
    /// when the request reached the leader.
    case forwardFailed(String)

    public var description: String {
        switch self {
        case .notLeader(let hint): hint == .none ? "not the leader (no leader known)" : "not the leader (leader \(hint))"
        case .leadershipTransferInProgress: "leadership transfer in progress"
        case .noQuorum(let ticks): "not committed within \(ticks) ticks (no quorum)"
        case .superseded: "replaced by another leader's entry"
        case .overloaded: "too many proposals pending"
        case .stopped: "the replica stopped"
        case .storageFailed(let description): "the replica's storage failed: \(description)"
        case .locked(let waitedMs): "the partition file stayed locked by another connection for \(waitedMs) ms"
        case .timedOut(let ms): "no outcome within \(ms) ms (no leader or no quorum)"
        case .forwardFailed(let reason): "forwarding to the leader failed: \(reason)"
        }
    }
}
