import Raft

/// One Raft node with its storage, driven by hand: tests step messages in and read what comes out.
struct Harness {
    var node: RaftNode
    let storage: MemoryStorage
    /// Committed entries handed to the application so far.
    var applied: [Entry] = []

    init(id: NodeID = 1, voters: [NodeID] = [1, 2, 3], storage: MemoryStorage? = nil, seed: UInt64 = 1,
         configure: (inout RaftConfig) -> Void = { _ in }) {
        let storage = storage ?? MemoryStorage(voters: voters)
        var config = RaftConfig(id: id, voters: voters)
        config.preVote = false
        config.checkQuorum = false
        configure(&config)
        self.storage = storage
        node = RaftNode(config: config, storage: storage, random: SplitMix64(seed: seed))
    }

    /// Handles every pending Ready (persist, apply, advance) and returns the messages to send.
    @discardableResult
    mutating func drain() -> [Message] {
        var messages: [Message] = []
        while node.hasReady {
            let ready = node.ready()
            persist(ready, into: storage)
            messages += ready.messages
            applied += ready.committedEntries
            node.advance(ready)
        }
        return messages
    }

    mutating func step(_ message: Message) { node.step(message) }

    mutating func tick(_ times: Int = 1) {
        for _ in 0 ..< times { node.tick() }
    }

    /// Acknowledges every append in `messages` as its follower would after persisting it, and
    /// returns what the node sends next.
    @discardableResult
    mutating func acknowledge(_ messages: [Message]) -> [Message] {
        for message in messages where message.kind == .append {
            let last = message.entries.last?.index ?? message.index
            node.step(Message(kind: .appendResponse, from: message.to, to: node.id, term: node.term, index: last))
        }
        return drain()
    }

    /// Elects this node and lets both followers acknowledge its no-op entry (followers replicating).
    mutating func becomeReplicatingLeader() {
        becomeLeader()
        acknowledge(drain())
    }

    /// Makes this node leader of a 3-node group at `term + 1` by granting it votes from 2 and 3.
    mutating func becomeLeader() {
        node.campaign()
        let requests = drain()
        for request in requests where request.kind == .vote || request.kind == .preVote {
            node.step(Message(kind: request.kind == .vote ? .voteResponse : .preVoteResponse,
                              from: request.to, to: node.id, term: request.term))
            if node.role == .leader { break }
        }
        if node.role == .candidate {
            for request in drain() where request.kind == .vote {
                node.step(Message(kind: .voteResponse, from: request.to, to: node.id, term: request.term))
                if node.role == .leader { break }
            }
        }
        precondition(node.role == .leader, "harness failed to elect \(node.id)")
    }
}

/// Persists a Ready in contract order (snapshot, entries, hard state).
/// Step 1 of the `Ready` contract. `beforeEntries` runs after the snapshot is stored and before
/// the entries are (where the simulator's checker looks at the log they extend).
func persist(_ ready: Ready, into storage: MemoryStorage, beforeEntries: (MemoryStorage) -> Void = { _ in }) {
    do {
        if let snapshot = ready.snapshot { try storage.applySnapshot(snapshot) }
        beforeEntries(storage)
        try storage.append(ready.entries)
        if let hardState = ready.hardState { try storage.setHardState(hardState) }
    } catch {
        preconditionFailure("persist: \(error)")
    }
}

/// A storage holding `terms[k]` at index `k + 1`.
func storage(withTerms terms: [UInt64], voters: [NodeID] = [1, 2, 3], hardState: HardState? = nil) -> MemoryStorage {
    let storage = MemoryStorage(voters: voters)
    let entries = terms.enumerated().map { Entry(index: LogIndex(UInt64($0.offset + 1)), term: Term($0.element), payload: [UInt8($0.offset & 0xFF)]) }
    try! storage.append(entries)
    if let hardState { try! storage.setHardState(hardState) }
    else if let last = terms.last { try! storage.setHardState(HardState(term: Term(last))) }
    return storage
}

func entry(_ index: UInt64, _ term: UInt64, _ payload: [UInt8] = []) -> Entry {
    Entry(index: LogIndex(index), term: Term(term), payload: payload)
}

func payloads(_ entries: [Entry]) -> [[UInt8]] { entries.filter { $0.kind != .noOp }.map(\.payload) }
