/// What Raft reads from durable storage. The application writes to it (see `RaftStorageWriter`)
/// while handling a `Ready`; Raft only reads, always from the same thread as the `RaftNode`.
///
/// The log held by a storage is the contiguous range `firstIndex() ... lastIndex()` preceded by a
/// "dummy" position `firstIndex() - 1` whose term is known (the snapshot's, or 0 for a new log).
/// An empty log has `firstIndex() == lastIndex() + 1`.
///
/// Contracts (checked by `StorageContractTests` for every implementation):
/// - `firstIndex()` ≥ 1 and `lastIndex()` ≥ `firstIndex() - 1`.
/// - `term(at: i)`: the term of entry `i` for `firstIndex() - 1 ≤ i ≤ lastIndex()`;
///   `.compacted` below that range, `.unavailable` above it.
/// - `entries(from: lo, upTo: hi, maxBytes:)`: entries `lo ..< hi` in order, cut to a prefix whose
///   total `Entry.sizeBytes` stays within `maxBytes` but never fewer than one entry;
///   `.compacted` if `lo < firstIndex()`, `.unavailable` if `hi > lastIndex() + 1`.
/// - `hardState()`: the last hard state saved, `HardState.empty` for a new node.
/// - `snapshot()`: the most recent snapshot (index `firstIndex() - 1`), an empty snapshot
///   (index 0) for a new log, or `.snapshotTemporarilyUnavailable`.
public protocol RaftStorage: AnyObject {
    func hardState() -> HardState
    func firstIndex() -> LogIndex
    func lastIndex() -> LogIndex
    func term(at index: LogIndex) throws(RaftStorageError) -> Term
    func entries(from lo: LogIndex, upTo hi: LogIndex, maxBytes: UInt64) throws(RaftStorageError) -> [Entry]
    func snapshot() throws(RaftStorageError) -> Snapshot
}

/// The write side, used by the driver that persists `Ready` batches and by retention.
///
/// Contracts (checked by `StorageContractTests`):
/// - `append(_:)`: `entries` are contiguous; the first one's index is at most `lastIndex() + 1`.
///   Existing entries at or after the first new index are deleted first (one suffix truncation),
///   entries below `firstIndex()` in the batch are ignored. Afterwards `lastIndex()` is the last
///   new entry's index.
/// - `setHardState(_:)`: replaces the hard state.
/// - `applySnapshot(_:)`: replaces the whole log with the snapshot (all entries dropped,
///   `firstIndex()` = snapshot index + 1); `.snapshotOutOfDate` if older than the current one.
/// - `compact(through:snapshotData:)`: drops entries `≤ index` (retention) and records a snapshot
///   at `index` with the entry's term; `.compacted` if `index < firstIndex() - 1` (already
///   gone), `.unavailable` if `index > lastIndex()`. Compacting the dummy index is a no-op.
/// Each call is atomic and durable when it returns (one SQLite transaction in production).
public protocol RaftStorageWriter: RaftStorage {
    func append(_ entries: [Entry]) throws(RaftStorageError)
    func setHardState(_ state: HardState) throws(RaftStorageError)
    func applySnapshot(_ snapshot: Snapshot) throws(RaftStorageError)
    func compact(through index: LogIndex, snapshotData: [UInt8]) throws(RaftStorageError)
}
