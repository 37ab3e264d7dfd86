import Raft
import SpoolCore

/// What a broker needs to start: where its files live and the limits it enforces.
public struct BrokerConfig: Sendable {
    /// The data folder: `broker.sqlite3` and `topics/<topic>/<partition>.sqlite3`.
    public var dataDirectory: String
    public var limits: SpoolLimits
    /// Threads that run SQLite and other blocking file work (never a network event loop).
    /// A partition's group commit holds one thread while it writes and fsyncs.
    public var storageThreads: Int
    /// This broker's Raft node id: the only voter of every partition of a single broker (1), or
    /// its `--node-id` in a cluster.
    public var nodeID: NodeID

    public init(dataDirectory: String, limits: SpoolLimits = SpoolLimits(), storageThreads: Int = 8, nodeID: NodeID = NodeID(1)) {
        self.dataDirectory = dataDirectory
        self.limits = limits
        self.storageThreads = storageThreads
        self.nodeID = nodeID
    }
}
