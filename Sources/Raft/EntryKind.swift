/// What an entry carries. The Raft core treats every kind the same; the application interprets them.
/// Raw values are stable: they are stored in the `kind` column of the records table.
public enum EntryKind: UInt8, Sendable, Hashable, CaseIterable {
    /// One produced record. The only kind that consumes a record offset (see docs/replication.md).
    case record = 0
    /// A consumer group's committed offset.
    case offsetCommit = 1
    /// A configuration change (carried and applied by the application; the voter set is static for now).
    case configuration = 2
    /// The empty entry a new leader appends to commit entries of earlier terms (Raft §8).
    case noOp = 3
}
