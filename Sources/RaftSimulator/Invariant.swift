/// The properties the simulator checks after every step (Raft §5.2, §5.3, §5.4; Figure 3).
public enum Invariant: String, Sendable, Hashable, CaseIterable {
    /// At most one leader per term (Election Safety).
    case electionSafety = "election safety: at most one leader per term"
    /// Two logs with an entry of the same index and term are identical up to it (Log Matching).
    case logMatching = "log matching"
    /// A leader holds every entry committed in earlier terms (Leader Completeness).
    case leaderCompleteness = "leader completeness"
    /// A committed entry never changes and never disappears from a node that committed it.
    case committedEntriesStable = "committed entries never change or disappear"
    /// A node's commit index never goes back, across restarts included (durably).
    case commitMonotonic = "commit index never goes back"
    /// Every node applies the same entry at the same index; an acknowledged proposal is present at
    /// its index on every node that applied that far (State Machine Safety).
    case stateMachineSafety = "state machine safety: acknowledged proposals survive"
    /// After the network heals, the cluster converges within the tick budget.
    case liveness = "liveness: convergence after healing"
}
