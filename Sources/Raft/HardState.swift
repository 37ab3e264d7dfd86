/// The state Raft must persist before sending any message that depends on it (Raft §5, Figure 2:
/// "persistent state on all servers"). `commit` is persisted too so a restart does not re-learn it.
public struct HardState: Hashable, Sendable, CustomStringConvertible {
    public var term: Term
    public var vote: NodeID
    public var commit: LogIndex

    public init(term: Term = .zero, vote: NodeID = .none, commit: LogIndex = .zero) {
        self.term = term
        self.vote = vote
        self.commit = commit
    }

    public static let empty = HardState()

    public var isEmpty: Bool { self == .empty }

    public var description: String { "hs(\(term) vote=\(vote) commit=\(commit))" }
}
