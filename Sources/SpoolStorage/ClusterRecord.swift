/// What a data folder remembers of its cluster: the `cluster` row of broker.sqlite3
/// (migrations/broker/0002_cluster.sql). A single broker started without `--peers` records node 1,
/// no peers and an empty cluster id.
public struct ClusterRecord: Sendable, Equatable {
    public var clusterID: String
    public var nodeID: UInt64
    /// Every voter, sorted by id, as `1=host:port,2=host:port` ("" for a single broker).
    public var peers: String
    public var createdMs: Int64

    public init(clusterID: String, nodeID: UInt64, peers: String, createdMs: Int64) {
        self.clusterID = clusterID
        self.nodeID = nodeID
        self.peers = peers
        self.createdMs = createdMs
    }
}
