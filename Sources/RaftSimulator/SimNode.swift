import Raft

/// One simulated broker: a disk (`MemoryStorage`, survives crashes), a Raft node and a state
/// machine (both volatile), and at most one write in flight to the disk.
final class SimNode {
    /// The simulated state machine: a running hash over every applied entry.
    struct StateMachine {
        var appliedIndex: LogIndex
        /// `chains[k]` is the hash after applying `baseIndex + k`.
        var baseIndex: LogIndex
        var chains: [UInt64]

        init(index: LogIndex, chain: UInt64) {
            appliedIndex = index
            baseIndex = index
            chains = [chain]
        }

        var chain: UInt64 { chains[chains.count - 1] }

        func chain(at index: LogIndex) -> UInt64 { chains[index.distance(from: baseIndex)] }

        mutating func apply(_ entry: Entry) {
            precondition(entry.index == appliedIndex + 1, "state machine applied \(entry.index) after \(appliedIndex)")
            chains.append(Fingerprint.chain(chain, entry))
            appliedIndex = entry.index
        }

        /// Snapshot data: index and hash.
        func encode(through index: LogIndex) -> [UInt8] {
            Self.bytes(index.rawValue) + Self.bytes(chain(at: index))
        }

        static func decode(_ data: [UInt8]) -> (LogIndex, UInt64) {
            precondition(data.count == 16, "bad simulator snapshot")
            return (LogIndex(word(data, 0)), word(data, 8))
        }

        private static func bytes(_ value: UInt64) -> [UInt8] { (0 ..< 8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

        private static func word(_ data: [UInt8], _ offset: Int) -> UInt64 {
            (0 ..< 8).reduce(UInt64(0)) { $0 | UInt64(data[offset + $1]) << (8 * $1) }
        }

        /// Drops hashes older than `index` (memory bound).
        mutating func forget(before index: LogIndex) {
            guard index > baseIndex, index <= appliedIndex else { return }
            chains.removeFirst(index.distance(from: baseIndex))
            baseIndex = index
        }
    }

    struct PendingWrite {
        var ready: Ready
        var completesAt: UInt64
    }

    let id: NodeID
    var storage: MemoryStorage
    var raft: RaftNode?
    var machine: StateMachine
    var pendingWrite: PendingWrite?
    var diskLatencyTicks = 0
    var incarnation: UInt64 = 0
    /// Last observed role and term, to trace changes.
    var observedRole: Role = .follower
    var observedTerm: Term = .zero
    var observedCommit: LogIndex = .zero
    var justRestarted = true
    /// Proposals this node made as leader and has not yet acknowledged: index → term.
    var proposals: [LogIndex: Term] = [:]

    init(id: NodeID, voters: [NodeID]) {
        self.id = id
        storage = MemoryStorage(voters: voters)
        machine = StateMachine(index: .zero, chain: 0)
    }

    var isUp: Bool { raft != nil }
}
