/// A node's role (Raft §5.2), plus the pre-candidate role of the thesis §9.6 pre-vote extension.
public enum Role: UInt8, Sendable, Hashable, CustomStringConvertible {
    case follower
    case preCandidate
    case candidate
    case leader

    public var description: String {
        switch self {
        case .follower: "follower"
        case .preCandidate: "pre-candidate"
        case .candidate: "candidate"
        case .leader: "leader"
        }
    }
}
