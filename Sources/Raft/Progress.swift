/// A leader's view of one follower (etcd-io/raft's tracker/progress.go; Raft §5.3 `nextIndex` and
/// `matchIndex`).
public struct Progress: Sendable {
    public enum State: UInt8, Sendable, CustomStringConvertible {
        /// Looking for the last matching index: one append in flight at a time.
        case probe
        /// Streaming: optimistic appends, bounded by the inflight window.
        case replicate
        /// Waiting for a snapshot to be installed; no appends.
        case snapshot

        public var description: String {
            switch self {
            case .probe: "probe"
            case .replicate: "replicate"
            case .snapshot: "snapshot"
            }
        }
    }

    /// Highest index known replicated (durably) on the follower.
    public internal(set) var match: LogIndex
    /// Next index to send.
    public internal(set) var next: LogIndex
    public internal(set) var state: State = .probe
    /// Index of the snapshot in flight, in the snapshot state (`.zero` otherwise).
    public internal(set) var pendingSnapshot: LogIndex = .zero
    /// Leader ticks since the snapshot was sent.
    var snapshotElapsedTicks = 0
    /// Heard from the follower since the last check-quorum period.
    var recentActive = false
    /// The append flow to the follower is throttled (etcd-io/raft's `MsgAppFlowPaused`): in the
    /// probe state a probe is in flight, in the replicate state the inflight window is full. Only
    /// an acknowledgement, a rejection or a heartbeat response clears it; the last lets exactly
    /// one more append go, an empty one while the window is still full (see `maybeSendAppend`).
    var msgAppFlowPaused = false
    var inflights: Inflights

    init(match: LogIndex, next: LogIndex, maxInflight: Int) {
        self.match = match
        self.next = next
        self.inflights = Inflights(capacity: maxInflight)
    }

    /// True when the leader sends this follower no append until it hears from it.
    public var isPaused: Bool {
        switch state {
        case .probe, .replicate: msgAppFlowPaused
        case .snapshot: true
        }
    }

    /// Appends sent to the follower and not yet acknowledged (at most
    /// `RaftConfig.maxInflightAppendsPerFollower`; only the replicate state counts them).
    public var inflightAppends: Int { inflights.count }

    private mutating func reset(to newState: State) {
        msgAppFlowPaused = false
        pendingSnapshot = .zero
        snapshotElapsedTicks = 0
        state = newState
        inflights.reset()
    }

    mutating func becomeProbe() {
        if state == .snapshot {
            let pending = pendingSnapshot
            reset(to: .probe)
            next = max(match + 1, pending + 1)
        } else {
            reset(to: .probe)
            next = match + 1
        }
    }

    mutating func becomeReplicate() {
        reset(to: .replicate)
        next = match + 1
    }

    mutating func becomeSnapshot(_ index: LogIndex) {
        reset(to: .snapshot)
        pendingSnapshot = index
    }

    /// An acknowledgement up to `index`. Returns true when `match` grew.
    mutating func maybeUpdate(_ index: LogIndex) -> Bool {
        var updated = false
        if match < index {
            match = index
            updated = true
            msgAppFlowPaused = false
        }
        next = max(next, index + 1)
        return updated
    }

    /// A rejection of the append that followed `rejected`; `matchHint` is where the follower thinks
    /// the logs may match. Returns false for a stale rejection.
    mutating func maybeDecrTo(rejected: LogIndex, matchHint: LogIndex) -> Bool {
        if state == .replicate {
            // A rejection at or below match must be stale (reordered or duplicated).
            if rejected <= match { return false }
            next = match + 1
            return true
        }
        // In the probe state only the answer to the latest probe counts.
        if next - 1 != rejected { return false }
        next = max(min(rejected, matchHint + 1), match + 1)
        msgAppFlowPaused = false
        return true
    }

    /// Records an append of `count` entries ending at `lastIndex` just sent.
    mutating func sentEntries(count: Int, lastIndex: LogIndex) {
        switch state {
        case .replicate:
            if count > 0 {
                next = lastIndex + 1
                inflights.add(lastIndex)
            }
            // A message that fills the window, or one sent while it was full (the empty append a
            // heartbeat response allows), pauses the flow until the follower answers again.
            msgAppFlowPaused = inflights.isFull
        case .probe:
            // Every append in the probe state is a probe, an empty one too (etcd-io/raft pauses
            // only on non-empty ones, and notes this is what it should do).
            msgAppFlowPaused = true
        case .snapshot:
            preconditionFailure("append sent in the snapshot state")
        }
    }
}
