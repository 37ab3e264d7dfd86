/// Everything a node needs its driver to do, in this order (the etcd-io/raft `Ready` contract):
///
/// 1. Persist durably, atomically per call: `snapshot` (if any, with `applySnapshot`), then
///    `entries` (with `append`, which replaces any conflicting suffix), then `hardState`.
///    Sync to disk when `mustSync`.
/// 2. Only then send `messages`. A message may promise what step 1 wrote (a vote, an append
///    acknowledgement), so sending first breaks Raft's safety after a crash.
/// 3. Apply `committedEntries` to the state machine, in order (and restore from `snapshot` if set).
/// 4. Call `RaftNode.advance(_:)` with this value. No new `Ready` is produced until then; the node
///    keeps accepting `tick`, `step` and `propose` meanwhile.
///
/// If the process crashes between 1 and 4, everything not yet persisted is simply lost: the node
/// restarts from its storage. That includes a crash between the calls of step 1: a snapshot
/// stored without the hard state after it restarts as committed, and entries stored without the
/// hard state are taken up again by the leader; nothing was sent yet that promised them.
public struct Ready: Sendable {
    /// Set when the role or leader changed since the previous `Ready`.
    public var softState: SoftState?
    /// Set when term, vote or commit changed since the previous `Ready`.
    public var hardState: HardState?
    /// Entries to append to storage, contiguous and in order.
    public var entries: [Entry]
    /// A snapshot received from the leader, to persist and restore.
    public var snapshot: Snapshot?
    /// Entries committed by the group and not yet applied, contiguous and in order.
    public var committedEntries: [Entry]
    /// Messages to send after persisting. Order between different destinations does not matter.
    public var messages: [Message]
    /// True when step 1 must reach stable storage (term, vote or entries changed).
    public var mustSync: Bool

    public init(
        softState: SoftState? = nil, hardState: HardState? = nil, entries: [Entry] = [],
        snapshot: Snapshot? = nil, committedEntries: [Entry] = [], messages: [Message] = [],
        mustSync: Bool = false
    ) {
        self.softState = softState
        self.hardState = hardState
        self.entries = entries
        self.snapshot = snapshot
        self.committedEntries = committedEntries
        self.messages = messages
        self.mustSync = mustSync
    }

    /// True when there is something to persist (a snapshot, entries or a hard state).
    public var needsPersistence: Bool { snapshot != nil || !entries.isEmpty || hardState != nil }
}
