/// One member of a Raft group as a synchronous value with no I/O, no clock, no threads and no
/// global randomness (the shape of etcd-io/raft's `raft` + `RawNode`).
///
/// Drive it with `tick()` (logical time), `step(_:)` (a message from a peer) and `propose(_:)`;
/// then, while `hasReady`, take `ready()`, handle it as `Ready` documents, and `advance(_:)`.
public struct RaftNode {
    public let id: NodeID
    let config: RaftConfig
    var random: any RandomNumberGenerator

    /// Current term (Raft §5.1). Persisted.
    public internal(set) var term: Term = .zero
    /// Candidate voted for in `term`, or `.none`. Persisted.
    public internal(set) var vote: NodeID = .none
    public internal(set) var role: Role = .follower
    /// The leader of `term` as far as this node knows, or `.none`.
    public internal(set) var leader: NodeID = .none

    var log: RaftLog
    /// Leader only: one entry per voter, this node included.
    var progress: [NodeID: Progress] = [:]
    /// Candidate / pre-candidate only: answers received.
    var votes: [NodeID: Bool] = [:]
    /// Outbox, drained by `ready()`.
    var outbox: [Message] = []

    var electionElapsed = 0
    var heartbeatElapsed = 0
    var randomizedElectionTimeout = 0
    /// Leader only: the node leadership is being handed to (thesis §3.10), or `.none`.
    public internal(set) var leadTransferee: NodeID = .none

    private var previousSoftState: SoftState
    private var previousHardState: HardState
    private var readyInFlight = false

    /// Builds a node from its storage: a new node when the storage is empty, a restarted one
    /// otherwise. `random` drives the randomized election timeouts and nothing else.
    public init(config: RaftConfig, storage: any RaftStorage, random: any RandomNumberGenerator) {
        config.validate()
        self.id = config.id
        self.config = config
        self.random = random
        self.log = RaftLog(storage: storage)
        let hardState = storage.hardState()
        if !hardState.isEmpty {
            // A commit below the snapshot is what a crash between `applySnapshot` and
            // `setHardState` of one `Ready` leaves: the snapshot is committed by definition, so
            // the node starts from it.
            precondition(hardState.commit <= log.lastIndex(),
                         "hard state commit \(hardState.commit) beyond the stored log \(log.committed)...\(log.lastIndex())")
            term = hardState.term
            vote = hardState.vote
            log.commit(to: max(hardState.commit, log.committed))
        }
        if let applied = config.appliedIndex { log.applied(to: applied) }
        previousHardState = hardState
        previousSoftState = SoftState(leader: .none, role: .follower)
        becomeFollower(term: term, leader: .none)
    }

    // MARK: Inspection

    public var hardState: HardState { HardState(term: term, vote: vote, commit: log.committed) }
    public var softState: SoftState { SoftState(leader: leader, role: role) }
    public var commitIndex: LogIndex { log.committed }
    public var appliedIndex: LogIndex { log.applied }
    public var firstIndex: LogIndex { log.firstIndex() }
    public var lastIndex: LogIndex { log.lastIndex() }
    public var lastTerm: Term { log.lastTerm() }
    public var voters: [NodeID] { config.voters }

    /// The leader's view of `peer`, nil on a non-leader.
    public func progress(of peer: NodeID) -> Progress? { role == .leader ? progress[peer] : nil }

    /// Term of the entry at `index` in this node's log (durable or not), nil if not held.
    public func term(at index: LogIndex) -> Term? { try? log.term(at: index) }

    /// The node's whole retained log, durable and unstable (for checkers and tests).
    public func logEntries() -> [Entry] {
        (try? log.slice(from: log.firstIndex(), upTo: log.lastIndex() + 1, maxBytes: .max)) ?? []
    }

    // MARK: Driving

    /// Advances logical time by one tick.
    public mutating func tick() {
        switch role {
        case .leader: tickLeader()
        case .follower, .preCandidate, .candidate: tickElection()
        }
    }

    /// Starts an election now, as if the election timeout had elapsed (etcd-io/raft's Campaign).
    public mutating func campaign() {
        guard role != .leader else { return }
        campaign(config.preVote ? .preElection : .election)
    }

    /// Appends `proposals` to the leader's log and replicates them. Returns the indexes assigned;
    /// they are committed when they appear in `Ready.committedEntries` with the term returned.
    @discardableResult
    public mutating func propose(_ proposals: [Proposal]) throws(ProposalError) -> (term: Term, indexes: ClosedRange<LogIndex>) {
        guard role == .leader else { throw .notLeader(leaderHint: leader) }
        guard leadTransferee == .none else { throw .leadershipTransferInProgress }
        guard !proposals.isEmpty else { throw .empty }
        let first = log.lastIndex() + 1
        appendEntries(proposals)
        broadcastAppend()
        return (term, first ... log.lastIndex())
    }

    /// Moves leadership to `transferee` (thesis §3.10): the leader stops accepting proposals,
    /// brings the transferee up to date and tells it to campaign at once. Abandoned after
    /// `electionTimeoutTicks`. A request for another node replaces a pending transfer; a request
    /// for the leader itself cancels it (proposals are accepted again at once); repeating the
    /// pending request changes nothing. On a follower the request is forwarded to the leader.
    public mutating func transferLeadership(to transferee: NodeID) {
        let request = Message(kind: .transferLeader, from: id, to: id, term: term, transferee: transferee)
        switch role {
        case .leader:
            handleTransferLeader(request)
        case .follower where leader != .none:
            send(Message(kind: .transferLeader, from: id, to: leader, transferee: transferee))
        default:
            break
        }
    }

    // MARK: Ready

    public var hasReady: Bool {
        guard !readyInFlight else { return false }
        return softState != previousSoftState
            || (hardState != previousHardState && !hardState.isEmpty)
            || !log.unstable.entries.isEmpty
            || log.unstable.snapshot != nil
            || !outbox.isEmpty
            || log.hasNextCommittedEntries()
    }

    /// The next batch of work. Call `advance(_:)` with it before asking for another one.
    public mutating func ready() -> Ready {
        precondition(!readyInFlight, "ready() called again before advance()")
        let hard = hardState
        var ready = Ready(
            softState: softState != previousSoftState ? softState : nil,
            hardState: hard != previousHardState && !hard.isEmpty ? hard : nil,
            entries: log.unstable.entries,
            snapshot: log.unstable.snapshot,
            committedEntries: log.nextCommittedEntries(maxBytes: config.maxBytesPerCommittedBatch),
            messages: outbox
        )
        ready.mustSync = !ready.entries.isEmpty || ready.snapshot != nil
            || hard.term != previousHardState.term || hard.vote != previousHardState.vote
        outbox = []
        previousSoftState = softState
        previousHardState = hard
        readyInFlight = true
        return ready
    }

    /// Reports that `ready` was persisted, its messages sent and its committed entries applied.
    public mutating func advance(_ ready: Ready) {
        precondition(readyInFlight, "advance() without ready()")
        readyInFlight = false
        if let snapshot = ready.snapshot {
            log.stableSnapshotTo(index: snapshot.index)
            log.applied(to: snapshot.index)
        }
        if let last = ready.entries.last { log.stableTo(index: last.index, term: last.term) }
        if let last = ready.committedEntries.last { log.applied(to: last.index) }
        // The leader counts itself towards a majority only for entries it has persisted, so a
        // commit always rests on a durable majority even if the leader crashes right after.
        if role == .leader, progress[id]!.maybeUpdate(log.durableIndex), maybeCommit() {
            broadcastAppend()
        }
    }

    // MARK: Outbox

    mutating func send(_ message: Message) {
        var message = message
        message.from = id
        switch message.kind {
        case .vote, .voteResponse, .preVote, .preVoteResponse:
            // Vote traffic carries its term explicitly: a pre-vote asks for a future term.
            precondition(message.term != .zero, "vote traffic without a term")
        case .transferLeader:
            break
        default:
            message.term = term
        }
        outbox.append(message)
    }
}
