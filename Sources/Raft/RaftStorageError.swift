/// The only errors a Raft storage may report. Anything else (an I/O error, a corrupt file) is not
/// recoverable by Raft: an implementation must stop the process (`precondition`) and let it
/// restart from disk, as etcd-io/raft panics.
public enum RaftStorageError: Error, Hashable, Sendable {
    /// The requested index is below the first retained entry (compacted away, e.g. by retention).
    case compacted
    /// The requested index is beyond the last entry.
    case unavailable
    /// A snapshot is being prepared; ask again later.
    case snapshotTemporarilyUnavailable
    /// A snapshot older than the current one was offered to `applySnapshot`.
    case snapshotOutOfDate
}
