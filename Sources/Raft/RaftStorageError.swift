/// The only errors a Raft storage may report. A read (`RaftStorage`) that fails for any other
/// reason (an I/O error, a corrupt file) is not recoverable by Raft, which reads in the middle of
/// its own steps: an implementation must stop the process (`precondition`) and let it restart
/// from disk, as etcd-io/raft panics. A write (`RaftStorageWriter`) is made by the driver, which
/// can handle its failure: it throws `writeFailed`.
public enum RaftStorageError: Error, Hashable, Sendable {
    /// The requested index is below the first retained entry (compacted away, e.g. by retention).
    case compacted
    /// The requested index is beyond the last entry.
    case unavailable
    /// A snapshot is being prepared; ask again later.
    case snapshotTemporarilyUnavailable
    /// A snapshot older than the current one was offered to `applySnapshot`.
    case snapshotOutOfDate
    /// A write (`RaftStorageWriter`) did not complete: an I/O error, a failed fsync, a full disk.
    /// Nothing of the call may be relied on as durable (it may or may not be on disk), and the
    /// storage takes no further write. Never thrown by reads. The driver stops using the node:
    /// it must not send the Ready's messages or call `advance` (docs/replication.md §11).
    case writeFailed(String)
    /// A write could not start because another connection holds the file's write lock (an
    /// operator's shell): nothing of the call was written and the storage takes writes as before.
    /// The driver keeps the same `Ready` and persists it again later (docs/replication.md §11).
    case busy
}
