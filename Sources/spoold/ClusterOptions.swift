import ArgumentParser
import Raft
import SpoolCluster
import SpoolPeer

/// The cluster options of spoold (docs/cluster.md). Without `--peers` the broker is a cluster of
/// one, node 1, with no peer listener: exactly the broker of before clusters.
struct ClusterOptions: ParsableArguments {
    @Option(help: "This broker's id in the cluster, a positive integer (needs --peers).")
    var nodeId: String?

    @Option(help: "Where to listen for the other brokers, HOST:PORT; must equal this node's entry in --peers (taken from it when omitted).")
    var peerListen: String?

    @Option(help: "Every voter of the cluster, this broker included: ID=HOST:PORT,ID=HOST:PORT,... (their peer addresses).")
    var peers: String?

    @Option(help: "Names the cluster in every peer handshake (default: spool- and a checksum of --peers; set it when two clusters share a peer list).")
    var clusterId: String?

    @Option(help: "Bytes of Raft messages queued for one unreachable or slow peer; beyond it they are dropped and counted (Raft resends).")
    var peerQueuedBytes: Int = 64 * 1024 * 1024

    @Option(help: "First wait before dialing a lost peer again, in ms (doubling up to --peer-reconnect-max-ms).")
    var peerReconnectInitialMs: Int64 = 50

    @Option(help: "Longest wait between dials of a lost peer, in ms.")
    var peerReconnectMaxMs: Int64 = 1000

    @Option(help: "How long a new peer connection may go without the peer's hello before it is closed, in ms.")
    var peerHelloTimeoutMs: Int64 = 5000

    @Option(help: "How often a keepalive goes to every connected peer, in ms.")
    var peerKeepaliveMs: Int64 = 100

    @Option(help: "A connected peer heard nothing from for this long, in ms, is not live: idle partitions that share a replica with it wake.")
    var peerLivenessTimeoutMs: Int64 = 500

    /// The peer-transport limits of the options (docs/cluster.md, "Options").
    struct TransportLimits {
        var queuedBytes = 64 << 20
        var reconnectInitialMs: Int64 = 50
        var reconnectMaxMs: Int64 = 1000
        var helloTimeoutMs: Int64 = 5000
        var keepaliveMs: Int64 = 100
        var livenessTimeoutMs: Int64 = 500
    }

    /// The peer-transport limits these options set, checked.
    func transportLimits() throws -> TransportLimits {
        guard peerQueuedBytes >= 1 << 20 else {
            throw ValidationError("--peer-queued-bytes must be at least 1048576 (one Raft append), got \(peerQueuedBytes)")
        }
        guard peerReconnectInitialMs >= 1 else { throw ValidationError("--peer-reconnect-initial-ms must be positive, got \(peerReconnectInitialMs)") }
        guard peerReconnectMaxMs >= peerReconnectInitialMs else {
            throw ValidationError(
                "--peer-reconnect-max-ms (\(peerReconnectMaxMs)) must be at least --peer-reconnect-initial-ms (\(peerReconnectInitialMs))")
        }
        guard peerHelloTimeoutMs >= 1 else { throw ValidationError("--peer-hello-timeout-ms must be positive, got \(peerHelloTimeoutMs)") }
        guard peerKeepaliveMs >= 1 else { throw ValidationError("--peer-keepalive-ms must be positive, got \(peerKeepaliveMs)") }
        guard peerLivenessTimeoutMs > peerKeepaliveMs else {
            throw ValidationError(
                "--peer-liveness-timeout-ms (\(peerLivenessTimeoutMs)) must be more than --peer-keepalive-ms (\(peerKeepaliveMs))")
        }
        return TransportLimits(
            queuedBytes: peerQueuedBytes, reconnectInitialMs: peerReconnectInitialMs, reconnectMaxMs: peerReconnectMaxMs,
            helloTimeoutMs: peerHelloTimeoutMs, keepaliveMs: peerKeepaliveMs, livenessTimeoutMs: peerLivenessTimeoutMs)
    }

    /// What the options say, checked.
    struct Resolved {
        var identity: ClusterIdentity
        /// Where to listen for peers; nil for a single broker.
        var peerListen: PeerAddress?
        /// Every voter's peer address (this node included); empty for a single broker.
        var voters: [NodeID: PeerAddress]
        var transport = TransportLimits()
    }

    func validate() throws {
        _ = try resolve()
        _ = try transportLimits()
    }

    /// The identity and addresses these options describe; a `ValidationError` that says what is
    /// wrong otherwise.
    func resolve() throws -> Resolved {
        guard let peers else {
            let given = [("--node-id", nodeId), ("--peer-listen", peerListen), ("--cluster-id", clusterId)].filter { $0.1 != nil }
            if let first = given.first {
                throw ValidationError("\(first.0) needs --peers (the list of every broker of the cluster, this one included)")
            }
            return Resolved(identity: .singleBroker, peerListen: nil, voters: [:])
        }
        let voters = try Self.parsePeers(peers)
        guard let nodeId else { throw ValidationError("--peers needs --node-id (this broker's id in the list)") }
        guard let id = UInt64(nodeId), id > 0 else { throw ValidationError("--node-id must be a positive integer, got \(nodeId)") }
        let node = NodeID(id)
        guard let own = voters[node] else {
            throw ValidationError("--node-id \(id) is not in --peers (\(ClusterIdentity.peersText(voters.mapValues(\.description))))")
        }
        if let peerListen {
            guard let listen = PeerAddress(peerListen) else { throw ValidationError("--peer-listen must be HOST:PORT, got \(peerListen)") }
            guard listen == own else {
                throw ValidationError("--peer-listen \(listen) is not node \(id)'s entry in --peers (\(own)); they must be equal")
            }
        }
        let clusterID = clusterId ?? ClusterIdentity.defaultClusterID(voters: voters.mapValues(\.description))
        try Self.checkClusterID(clusterID)
        return Resolved(
            identity: ClusterIdentity(clusterID: clusterID, node: node, voters: voters.mapValues(\.description)), peerListen: own,
            voters: voters, transport: try transportLimits())
    }

    /// `ID=HOST:PORT,...`: positive, distinct ids; distinct addresses with a real port.
    static func parsePeers(_ text: String) throws -> [NodeID: PeerAddress] {
        var voters: [NodeID: PeerAddress] = [:]
        for entry in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let equals = entry.firstIndex(of: "=") else {
                throw ValidationError("--peers entries are ID=HOST:PORT, got \"\(entry)\"")
            }
            let idText = entry[..<equals]
            let addressText = String(entry[entry.index(after: equals)...])
            guard let id = UInt64(idText), id > 0 else { throw ValidationError("--peers: node ids are positive integers, got \"\(idText)\"") }
            guard let address = PeerAddress(addressText), address.port > 0 else {
                throw ValidationError("--peers: node \(id)'s address must be HOST:PORT with a port from 1 to 65535, got \"\(addressText)\"")
            }
            guard voters[NodeID(id)] == nil else { throw ValidationError("--peers: node \(id) is listed twice") }
            if let other = voters.first(where: { $0.value == address }) {
                throw ValidationError("--peers: nodes \(other.key.rawValue) and \(id) have the same address \(address)")
            }
            voters[NodeID(id)] = address
        }
        return voters
    }

    /// A cluster id travels in every hello and shows in messages: printable ASCII without spaces.
    static func checkClusterID(_ id: String) throws {
        let bytes = Array(id.utf8)
        guard !bytes.isEmpty, bytes.count <= 128, bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw ValidationError("--cluster-id must be 1 to 128 printable ASCII characters without spaces, got \"\(id)\"")
        }
    }
}
