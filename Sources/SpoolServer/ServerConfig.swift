import SpoolCore

/// Where the server listens and what it enforces per connection.
public struct ServerConfig: Sendable {
    /// Host to bind (an address or name). The default is loopback only.
    public var host: String
    /// Port to bind; 0 picks a free one (tests).
    public var port: Int
    public var limits: SpoolLimits
    /// Event loop threads for network I/O (never used for SQLite).
    public var networkThreads: Int
    /// This broker's place in its cluster (METADATA, and CREATE's refusal in a cluster of more
    /// than one broker until replication is wired in). Node 1 alone by default.
    public var cluster: ClusterView

    public init(
        host: String = "127.0.0.1", port: Int = 7070, limits: SpoolLimits = SpoolLimits(), networkThreads: Int = 2,
        cluster: ClusterView = .singleBroker()
    ) {
        self.host = host
        self.port = port
        self.limits = limits
        self.networkThreads = networkThreads
        self.cluster = cluster
    }
}
