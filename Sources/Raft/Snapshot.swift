/// A snapshot of the applied state up to and including `index` (Raft §7). The Raft core never looks
/// inside `data`; for a Spool partition it describes where the retained log starts (see
/// docs/replication.md), for the simulator it is the applied history.
public struct Snapshot: Hashable, Sendable, CustomStringConvertible {
    /// Index of the last entry the snapshot covers.
    public var index: LogIndex
    /// Term of the entry at `index`.
    public var term: Term
    /// Voters at `index`, sorted.
    public var voters: [NodeID]
    public var data: [UInt8]

    public init(index: LogIndex, term: Term, voters: [NodeID], data: [UInt8] = []) {
        self.index = index
        self.term = term
        self.voters = voters.sorted()
        self.data = data
    }

    public var isEmpty: Bool { index == .zero }

    public var description: String { "snap(\(index)/\(term) \(data.count)B)" }
}
