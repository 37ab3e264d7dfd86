import Raft
import SpoolCluster

/// What a broker's peer transport needs: who it is, which cluster, and every voter's address.
public struct PeerTransportConfig: Sendable {
    public var node: NodeID
    /// Both ends of a connection must name the same cluster, or the connection is refused.
    public var clusterID: String
    /// Told to peers in the hello (METADATA shows it).
    public var clientAddress: String
    /// Where this broker listens for peers (port 0 picks a free one; tests).
    public var listen: PeerAddress
    /// Every voter but this broker, with its peer address.
    public var peers: [NodeID: PeerAddress]
    public var limits: PeerLimits
    /// Raft messages (their bytes) waiting for one peer while it is unreachable or slow. Beyond it
    /// new messages are dropped and counted: Raft resends what matters, and a dead peer must not
    /// grow the broker's memory.
    public var queuedBytesPerPeer: Int
    /// First and longest wait before dialing a peer again, in milliseconds (doubling in between).
    public var reconnectInitialMs: Int64
    public var reconnectMaxMs: Int64
    /// How long a new connection may go without the peer's hello, in milliseconds, before it is
    /// closed: a dialer whose peer accepted and then went silent (a stopped process, a proxy
    /// holding bytes) would otherwise wait on it forever instead of dialing again, and an
    /// acceptor would keep a silent stranger's connection open.
    public var helloTimeoutMs: Int64
    /// How often a keepalive frame goes to every connected peer, in milliseconds, whatever else
    /// is sent (`PeerFrame.keepalive`).
    public var keepaliveIntervalMs: Int64
    /// A connected peer from which nothing (not even a keepalive) arrived for this long, in
    /// milliseconds, is not live: quiesced groups that share a replica with it wake and run their
    /// election timers again. Several keepalive intervals, so a busy event loop's late keepalive
    /// does not count as silence; a false alarm only wakes groups.
    public var livenessTimeoutMs: Int64

    public init(
        node: NodeID, clusterID: String, clientAddress: String, listen: PeerAddress, peers: [NodeID: PeerAddress],
        limits: PeerLimits = PeerLimits(), queuedBytesPerPeer: Int = 64 * 1024 * 1024, reconnectInitialMs: Int64 = 50,
        reconnectMaxMs: Int64 = 1000, helloTimeoutMs: Int64 = 5000, keepaliveIntervalMs: Int64 = 100, livenessTimeoutMs: Int64 = 500
    ) {
        precondition(helloTimeoutMs > 0, "the hello timeout must be positive")
        precondition(keepaliveIntervalMs > 0 && livenessTimeoutMs > keepaliveIntervalMs, "the liveness timeout must exceed the keepalive interval")
        precondition(node != .none, "node id 0 is reserved")
        precondition(peers[node] == nil, "peers lists the other brokers, not this one")
        self.node = node
        self.clusterID = clusterID
        self.clientAddress = clientAddress
        self.listen = listen
        self.peers = peers
        self.limits = limits
        self.queuedBytesPerPeer = queuedBytesPerPeer
        self.reconnectInitialMs = reconnectInitialMs
        self.reconnectMaxMs = reconnectMaxMs
        self.helloTimeoutMs = helloTimeoutMs
        self.keepaliveIntervalMs = keepaliveIntervalMs
        self.livenessTimeoutMs = livenessTimeoutMs
    }

    /// Exactly one connection per pair of brokers: the lower id dials the higher, and both
    /// directions share it.
    public func dials(_ peer: NodeID) -> Bool { node < peer }
}
