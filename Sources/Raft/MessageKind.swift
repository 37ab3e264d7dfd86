/// The messages Raft nodes exchange. Names follow the paper (Raft §5, thesis §9.6 for pre-vote,
/// thesis §3.10 for leadership transfer).
public enum MessageKind: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case preVote
    case preVoteResponse
    case vote
    case voteResponse
    case append
    case appendResponse
    case heartbeat
    case heartbeatResponse
    case snapshot
    /// Sent by a leader transferring leadership: "start an election now, skipping pre-vote".
    case timeoutNow
    /// Asks the leader to transfer leadership to `Message.transferee` (forwarded by followers).
    case transferLeader

    public var description: String {
        switch self {
        case .preVote: "PreVote"
        case .preVoteResponse: "PreVoteResp"
        case .vote: "Vote"
        case .voteResponse: "VoteResp"
        case .append: "App"
        case .appendResponse: "AppResp"
        case .heartbeat: "Heartbeat"
        case .heartbeatResponse: "HeartbeatResp"
        case .snapshot: "Snap"
        case .timeoutNow: "TimeoutNow"
        case .transferLeader: "TransferLeader"
        }
    }

    /// The response kind for a vote request kind.
    var voteResponse: MessageKind {
        switch self {
        case .preVote: .preVoteResponse
        case .vote: .voteResponse
        default: preconditionFailure("\(self) is not a vote request")
        }
    }
}
