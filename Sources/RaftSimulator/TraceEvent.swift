import Raft

/// Something that happened in a simulation, kept for the failure report and folded into the run's
/// digest (which proves that a seed reproduces the same run bit for bit).
public enum TraceEvent: Sendable {
    public enum DropReason: UInt8, Sendable {
        case loss, partition, nodeDown
    }

    case phase(String)
    case fault(Fault)
    case deliver(Message)
    case drop(Message, DropReason)
    case duplicate(Message)
    case role(NodeID, Role, Term, leader: NodeID)
    case propose(NodeID, Term, first: LogIndex, last: LogIndex)
    case acknowledged(NodeID, LogIndex, Term)
    case commit(NodeID, LogIndex)
    case persist(NodeID, entries: Int, lastIndex: LogIndex, hardState: HardState?, snapshot: LogIndex?)
    case compact(NodeID, through: LogIndex)
    case crash(NodeID, lostWrite: Bool)
    case restart(NodeID, HardState, lastIndex: LogIndex)

    func mix(into f: inout Fingerprint) {
        switch self {
        case .phase(let name):
            f.mix(1)
            f.mix(Array(name.utf8))
        case .fault(let fault):
            f.mix(2)
            f.mix(Array(fault.description.utf8))
        case .deliver(let m):
            f.mix(3)
            Self.mix(m, into: &f)
        case .drop(let m, let reason):
            f.mix(4)
            f.mix(UInt64(reason.rawValue))
            Self.mix(m, into: &f)
        case .duplicate(let m):
            f.mix(5)
            Self.mix(m, into: &f)
        case .role(let node, let role, let term, let leader):
            f.mix(6)
            f.mix(node.rawValue)
            f.mix(UInt64(role.rawValue))
            f.mix(term.rawValue)
            f.mix(leader.rawValue)
        case .propose(let node, let term, let first, let last):
            f.mix(7)
            f.mix(node.rawValue)
            f.mix(term.rawValue)
            f.mix(first.rawValue)
            f.mix(last.rawValue)
        case .acknowledged(let node, let index, let term):
            f.mix(8)
            f.mix(node.rawValue)
            f.mix(index.rawValue)
            f.mix(term.rawValue)
        case .commit(let node, let index):
            f.mix(9)
            f.mix(node.rawValue)
            f.mix(index.rawValue)
        case .persist(let node, let count, let last, let hardState, let snapshot):
            f.mix(10)
            f.mix(node.rawValue)
            f.mix(UInt64(count))
            f.mix(last.rawValue)
            f.mix(hardState.map { $0.term.rawValue ^ ($0.vote.rawValue << 32) ^ ($0.commit.rawValue << 8) } ?? 0)
            f.mix(snapshot?.rawValue ?? 0)
        case .compact(let node, let through):
            f.mix(11)
            f.mix(node.rawValue)
            f.mix(through.rawValue)
        case .crash(let node, let lostWrite):
            f.mix(12)
            f.mix(node.rawValue)
            f.mix(lostWrite ? 1 : 0)
        case .restart(let node, let hardState, let last):
            f.mix(13)
            f.mix(node.rawValue)
            f.mix(hardState.term.rawValue)
            f.mix(hardState.commit.rawValue)
            f.mix(last.rawValue)
        }
    }

    private static func mix(_ m: Message, into f: inout Fingerprint) {
        f.mix(UInt64(m.kind.rawValue))
        f.mix(m.from.rawValue)
        f.mix(m.to.rawValue)
        f.mix(m.term.rawValue)
        f.mix(m.logTerm.rawValue)
        f.mix(m.index.rawValue)
        f.mix(m.commit.rawValue)
        f.mix(UInt64(m.entries.count))
        f.mix(m.reject ? 1 : 0)
        f.mix(m.rejectHint.rawValue)
    }
}

extension TraceEvent: CustomStringConvertible {
    public var description: String {
        switch self {
        case .phase(let name): "=== \(name) ==="
        case .fault(let fault): "FAULT \(fault)"
        case .deliver(let m): "deliver \(m)"
        case .drop(let m, let reason): "drop(\(reason)) \(m)"
        case .duplicate(let m): "duplicate \(m)"
        case .role(let node, let role, let term, let leader): "\(node) is \(role) in \(term), leader \(leader)"
        case .propose(let node, let term, let first, let last): "\(node) proposed \(first)...\(last) in \(term)"
        case .acknowledged(let node, let index, let term): "\(node) acknowledged \(index)/\(term) to its client"
        case .commit(let node, let index): "\(node) commit=\(index)"
        case .persist(let node, let count, let last, let hardState, let snapshot):
            "\(node) persisted \(count) entries (last \(last))"
                + (hardState.map { " \($0)" } ?? "") + (snapshot.map { " snapshot \($0)" } ?? "")
        case .compact(let node, let through): "\(node) compacted through \(through)"
        case .crash(let node, let lostWrite): "CRASH \(node)" + (lostWrite ? " (lost an unpersisted write)" : "")
        case .restart(let node, let hardState, let last): "RESTART \(node) from \(hardState) last=\(last)"
        }
    }
}
