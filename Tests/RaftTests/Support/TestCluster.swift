import Raft
import RaftSimulator

/// An in-memory network of Raft nodes that delivers messages synchronously (etcd-io/raft's test
/// `network`): cut links, isolate nodes, crash and restart them, and check the simulator's
/// `SafetyChecker` on the way: log matching, committed entries staying, commits never going back
/// and one leader per term (not leader completeness, the state machine or acknowledgements, which
/// the simulator checks with its own tracking).
final class TestCluster {
    struct Link: Hashable {
        var from: NodeID
        var to: NodeID
    }

    let ids: [NodeID]
    private(set) var storages: [NodeID: MemoryStorage] = [:]
    private(set) var nodes: [NodeID: RaftNode] = [:]
    private(set) var applied: [NodeID: [Entry]] = [:]
    private var cut: Set<Link> = []
    private var restarts: UInt64 = 0
    /// Applied to every node's configuration when it starts (it sees `config.id`, so it can differ
    /// per node). Changing it takes effect at the next `restart`.
    var configure: (inout RaftConfig) -> Void
    /// Messages for which this returns true are dropped on delivery (etcd-io/raft's `msgHook`).
    var drop: ((Message) -> Bool)?
    var checker = SafetyChecker()
    /// When false, messages stay in `inFlight` for the test to inspect or drop.
    var autoDeliver = true
    var inFlight: [Message] = []

    init(size: Int, configure: @escaping (inout RaftConfig) -> Void = { _ in }) {
        ids = (1 ... UInt64(size)).map { NodeID($0) }
        self.configure = configure
        for id in ids {
            storages[id] = MemoryStorage(voters: ids)
            start(id)
        }
    }

    func node(_ id: NodeID) -> RaftNode { nodes[id]! }

    var leader: NodeID? {
        ids.first { nodes[$0]?.role == .leader }
    }

    private func start(_ id: NodeID) {
        var config = RaftConfig(id: id, voters: ids)
        config.electionTimeoutTicks = 10
        config.heartbeatIntervalTicks = 1
        configure(&config)
        restarts += 1
        nodes[id] = RaftNode(config: config, storage: storages[id]!, random: SplitMix64(seed: id.rawValue &* 7919 &+ restarts))
        applied[id] = []
        observe(id, restarted: true)
    }

    // MARK: Faults

    func isolate(_ id: NodeID) {
        for other in ids where other != id {
            cut.insert(Link(from: id, to: other))
            cut.insert(Link(from: other, to: id))
        }
    }

    func cutOneWay(from: NodeID, to: NodeID) { cut.insert(Link(from: from, to: to)) }

    func heal() { cut.removeAll() }

    /// Loses the node's volatile state and anything not yet persisted.
    func crash(_ id: NodeID) { nodes[id] = nil }

    func restart(_ id: NodeID) {
        precondition(nodes[id] == nil, "restart of a running node")
        start(id)
    }

    // MARK: Driving

    func campaign(_ id: NodeID) {
        nodes[id]!.campaign()
        observe(id)
        stabilize()
    }

    func tick(_ id: NodeID, _ times: Int = 1) {
        for _ in 0 ..< times {
            nodes[id]?.tick()
            observe(id)
        }
    }

    /// Ticks every running node `times` times, stabilizing after each round.
    func tickAll(_ times: Int = 1) {
        for _ in 0 ..< times {
            for id in ids where nodes[id] != nil { tick(id) }
            stabilize()
        }
    }

    @discardableResult
    func propose(_ id: NodeID, _ payload: [UInt8], kind: EntryKind = .record) throws(ProposalError) -> LogIndex {
        let result = try nodes[id]!.propose([Proposal(kind: kind, payload: payload)])
        stabilize()
        return result.indexes.upperBound
    }

    func transferLeadership(from leader: NodeID, to target: NodeID) {
        nodes[leader]!.transferLeadership(to: target)
        stabilize()
    }

    /// Step a message into its destination if the link is up and the node running.
    func deliver(_ message: Message) {
        guard !cut.contains(Link(from: message.from, to: message.to)), nodes[message.to] != nil,
              drop?(message) != true else { return }
        nodes[message.to]!.step(message)
        observe(message.to)
    }

    /// Handles one Ready of `id` (persist, apply, advance) and returns its messages.
    @discardableResult
    func handleReady(_ id: NodeID) -> [Message] {
        guard var node = nodes[id], node.hasReady else { return [] }
        let ready = node.ready()
        let storage = storages[id]!
        // As the simulator does: the entries are checked against the log after the snapshot.
        persist(ready, into: storage) { storage in
            guard let first = ready.entries.first else { return }
            checker.observePersistedEntries(node: id, entries: ready.entries,
                                            previousTerm: (try? storage.term(at: first.index - 1)) ?? .zero,
                                            durableCommit: storage.hardState().commit)
        }
        if let hardState = ready.hardState { checker.observePersistedCommit(node: id, commit: hardState.commit) }
        applied[id]! += ready.committedEntries
        node.advance(ready)
        nodes[id] = node
        observe(id)
        return ready.messages
    }

    /// Runs every node's Ready and delivers every message until nothing moves.
    func stabilize(maxRounds: Int = 1000) {
        for _ in 0 ..< maxRounds {
            var sent: [Message] = []
            for id in ids where nodes[id] != nil {
                while nodes[id]?.hasReady == true { sent += handleReady(id) }
            }
            if sent.isEmpty && (inFlight.isEmpty || !autoDeliver) { return }
            inFlight += sent
            guard autoDeliver else { return }
            let batch = inFlight
            inFlight = []
            for message in batch { deliver(message) }
        }
        preconditionFailure("cluster did not stabilize")
    }

    private func observe(_ id: NodeID, restarted: Bool = false) {
        guard let node = nodes[id] else { return }
        checker.observeRole(node: id, term: node.term, role: node.role)
        checker.observeCommit(node: id, commit: node.commitIndex, restarted: restarted, termAt: { node.term(at: $0) })
    }

    /// Removes and returns the messages held while `autoDeliver` is false.
    func takeInFlight() -> [Message] {
        defer { inFlight = [] }
        return inFlight
    }

    /// Payloads of the non-no-op entries node `id` applied.
    func appliedPayloads(_ id: NodeID) -> [[UInt8]] { payloads(applied[id]!) }
}
