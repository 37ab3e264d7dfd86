import Raft
import SpoolCore

/// Which cluster a broker belongs to and as which node: what `--cluster-id`, `--node-id` and
/// `--peers` say, and what the data folder remembers from its first start. A folder belongs to
/// one cluster and one node for good (docs/cluster.md): starting it as another would let two
/// brokers claim one id, or mix records of two clusters.
public struct ClusterIdentity: Hashable, Sendable {
    /// Names the cluster in every peer hello; "" for a single broker without `--peers`.
    public var clusterID: String
    public var node: NodeID
    /// Every voter (this node included) with its peer address, canonical `host:port` (`[v6]:port`).
    /// Empty for a single broker started without `--peers`.
    public var voters: [NodeID: String]

    public init(clusterID: String, node: NodeID, voters: [NodeID: String]) {
        self.clusterID = clusterID
        self.node = node
        self.voters = voters
    }

    /// A broker started without cluster options: node 1 alone, as every broker before clusters.
    public static let singleBroker = ClusterIdentity(clusterID: "", node: NodeID(1), voters: [:])

    /// True for a broker started without `--peers`.
    public var isSingleBroker: Bool { voters.isEmpty }

    /// The brokers of the cluster: the voters, or 1 for a single broker.
    public var brokerCount: Int { max(1, voters.count) }

    /// The voters as one canonical text, sorted by id: `1=127.0.0.1:7171,2=127.0.0.1:7172`.
    public var peersText: String { Self.peersText(voters) }

    public static func peersText(_ voters: [NodeID: String]) -> String {
        voters.sorted { $0.key < $1.key }.map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: ",")
    }

    /// The cluster id of brokers started without `--cluster-id`: `spool-` and the CRC-32C of the
    /// canonical peers text in 8 hex digits. Brokers given the same `--peers` agree on it without
    /// talking; two clusters with identical peer lists (the same addresses on two private
    /// networks) must set `--cluster-id` to tell each other apart.
    public static func defaultClusterID(voters: [NodeID: String]) -> String {
        let hex = String(CRC32C.checksum(Array(peersText(voters).utf8)), radix: 16)
        return "spool-" + String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// What a start does with the folder it was given.
    public enum Decision: Hashable, Sendable {
        /// The folder is new: record this identity.
        case record
        /// The folder recorded this same identity.
        case matches
        /// Refuse to start, with this message (what the folder has, what was given).
        case refuse(String)
    }

    /// Decides whether this identity may open a folder that remembers `remembered` (nil: a new
    /// folder). `singleBrokerData`: the folder was written by a broker from before clusters, so
    /// it holds a single node's topics.
    public func decide(remembered: ClusterIdentity?, singleBrokerData: Bool = false) -> Decision {
        guard let remembered else {
            if singleBrokerData && !isSingleBroker {
                return .refuse(
                    "the data folder was written by a single broker (a version from before clusters) and holds its topics; "
                        + "it cannot join a cluster (moving a single node into a cluster is not supported yet): "
                        + "start it without --peers, or give this broker a new --data-dir")
            }
            return .record
        }
        if remembered == self { return .matches }
        if remembered.isSingleBroker {
            return .refuse(
                "the data folder belongs to a single broker (first started without --peers) and cannot join a cluster "
                    + "(moving a single node into a cluster is not supported yet); given \(summary): "
                    + "start it without cluster options, or give this broker a new --data-dir")
        }
        if isSingleBroker {
            return .refuse(
                "the data folder belongs to node \(remembered.node.rawValue) of cluster \(remembered.clusterID) "
                    + "(--peers \(remembered.peersText)), but this start has no cluster options: "
                    + "start it with --node-id \(remembered.node.rawValue) --peers \(remembered.peersText)")
        }
        var differences: [String] = []
        if remembered.clusterID != clusterID {
            differences.append("--cluster-id: the folder has \(remembered.clusterID), given \(clusterID)")
        }
        if remembered.node != node {
            differences.append("--node-id: the folder has \(remembered.node.rawValue), given \(node.rawValue)")
        }
        if remembered.voters != voters {
            differences.append("--peers: the folder has \(remembered.peersText), given \(peersText)")
        }
        return .refuse(
            "the data folder belongs to another cluster or node than this start says (\(differences.joined(separator: "; "))); "
                + "start it with the options it was first started with, or give this broker a new --data-dir "
                + "(changing the members of a cluster is not supported yet)")
    }

    /// How a start's identity reads in a message.
    var summary: String {
        isSingleBroker ? "no cluster options" : "--cluster-id \(clusterID) --node-id \(node.rawValue) --peers \(peersText)"
    }
}
