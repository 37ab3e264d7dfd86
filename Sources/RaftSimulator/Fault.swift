import Raft

/// One scheduled fault of a simulation's fault plan.
public enum Fault: Sendable, Hashable, CustomStringConvertible {
    /// Symmetric partition: nodes in different groups cannot talk.
    case partition([[NodeID]])
    /// One-way partition: messages from `from` to `to` are lost, the other direction works.
    case cutOneWay(from: NodeID, to: NodeID)
    /// Every link works again.
    case heal
    /// The node loses its volatile state and any write not yet persisted.
    case crash(NodeID)
    /// The node restarts from its storage.
    case restart(NodeID)
    /// Each write (Ready) takes `latencyTicks` ticks to reach the disk.
    case slowDisk(NodeID, latencyTicks: Int)
    case fastDisk(NodeID)
    /// Ask the current leader to hand leadership to this node.
    case transferLeadership(to: NodeID)

    public var description: String {
        switch self {
        case .partition(let groups):
            "partition " + groups.map { "{" + $0.map(\.description).joined(separator: ",") + "}" }.joined(separator: " ")
        case .cutOneWay(let from, let to): "cut \(from)->\(to)"
        case .heal: "heal"
        case .crash(let node): "crash \(node)"
        case .restart(let node): "restart \(node)"
        case .slowDisk(let node, let latency): "slow disk \(node) \(latency) ticks"
        case .fastDisk(let node): "fast disk \(node)"
        case .transferLeadership(let node): "transfer leadership to \(node)"
        }
    }
}
