/// Why a proposal was refused. Values, not crashes: the broker maps them to wire error codes.
public enum ProposalError: Error, Hashable, Sendable {
    /// This node is not the leader; `leaderHint` is the leader it knows of, or `NodeID.none`.
    case notLeader(leaderHint: NodeID)
    /// The leader is handing leadership over and accepts no new entries (thesis §3.10).
    case leadershipTransferInProgress
    /// The proposal held no entries.
    case empty
}
