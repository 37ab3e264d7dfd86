/// One message between two nodes of a Raft group. Field meanings depend on `kind`, as in
/// etcd-io/raft's `raftpb.Message`:
/// - `append`: `index`/`logTerm` identify the entry preceding `entries` (Raft §5.3), `commit` is
///   the leader's commit index.
/// - `appendResponse`: `index` is the follower's last matching index when accepted; when
///   `reject`, `index` is the rejected `index` and `rejectHint`/`logTerm` point at the follower's
///   best guess of where the logs may match.
/// - `preVote`/`vote`: `index`/`logTerm` describe the candidate's last entry (Raft §5.4.1).
/// - `heartbeat`: `commit` is `min(follower match, leader commit)`.
public struct Message: Hashable, Sendable, CustomStringConvertible {
    public var kind: MessageKind
    public var from: NodeID
    public var to: NodeID
    public var term: Term
    public var logTerm: Term
    public var index: LogIndex
    public var entries: [Entry]
    public var commit: LogIndex
    public var reject: Bool
    public var rejectHint: LogIndex
    public var snapshot: Snapshot?
    /// Set on votes of a leadership transfer: they bypass the leader lease (thesis §3.10).
    public var isLeaderTransfer: Bool
    /// For `transferLeader`: the node that should become leader.
    public var transferee: NodeID
    /// On a `heartbeat` a driver sends itself (never the node): "the group is idle, everything up
    /// to `commit` is replicated to you; stop your election timer until you hear otherwise"
    /// (quiescence, as CockroachDB does it outside etcd-io/raft). The node steps it as an
    /// ordinary heartbeat and ignores the flag.
    public var quiesce: Bool

    public init(
        kind: MessageKind, from: NodeID, to: NodeID, term: Term = .zero, logTerm: Term = .zero,
        index: LogIndex = .zero, entries: [Entry] = [], commit: LogIndex = .zero, reject: Bool = false,
        rejectHint: LogIndex = .zero, snapshot: Snapshot? = nil, isLeaderTransfer: Bool = false,
        transferee: NodeID = .none, quiesce: Bool = false
    ) {
        self.kind = kind
        self.from = from
        self.to = to
        self.term = term
        self.logTerm = logTerm
        self.index = index
        self.entries = entries
        self.commit = commit
        self.reject = reject
        self.rejectHint = rejectHint
        self.snapshot = snapshot
        self.isLeaderTransfer = isLeaderTransfer
        self.transferee = transferee
        self.quiesce = quiesce
    }

    public var description: String {
        var s = "\(from)->\(to) \(kind) \(term)"
        switch kind {
        case .append:
            s += " prev=\(index)/\(logTerm) n=\(entries.count) commit=\(commit)"
        case .appendResponse:
            s += reject ? " reject=\(index) hint=\(rejectHint)/\(logTerm)" : " match=\(index)"
        case .vote, .preVote:
            s += " last=\(index)/\(logTerm)" + (isLeaderTransfer ? " transfer" : "")
        case .voteResponse, .preVoteResponse:
            s += reject ? " rejected" : " granted"
        case .heartbeat:
            s += " commit=\(commit)" + (quiesce ? " quiesce" : "")
        case .snapshot:
            s += " \(snapshot.map { "\($0)" } ?? "nil")"
        case .transferLeader:
            s += " to=\(transferee)"
        case .heartbeatResponse, .timeoutNow:
            break
        }
        return s
    }
}
