import Raft
import SpoolCluster
import SpoolCore
import Testing

/// What a data folder remembers of its cluster, and which starts it lets through.
@Suite("ClusterIdentity: the cluster a data folder belongs to", .timeLimit(.minutes(1)))
struct ClusterIdentityTests {
    static let voters: [NodeID: String] = [NodeID(1): "127.0.0.1:7171", NodeID(2): "127.0.0.1:7172", NodeID(3): "127.0.0.1:7173"]

    static func node(_ id: UInt64, voters: [NodeID: String] = voters, clusterID: String? = nil) -> ClusterIdentity {
        ClusterIdentity(clusterID: clusterID ?? ClusterIdentity.defaultClusterID(voters: voters), node: NodeID(id), voters: voters)
    }

    @Test("the peers text is canonical: sorted by id, whatever order the options listed them in")
    func peersText() {
        #expect(Self.node(2).peersText == "1=127.0.0.1:7171,2=127.0.0.1:7172,3=127.0.0.1:7173")
        #expect(ClusterIdentity.singleBroker.peersText == "")
        #expect(ClusterIdentity.peersText([NodeID(10): "h:1", NodeID(9): "h:2"]) == "9=h:2,10=h:1")
    }

    @Test("the default cluster id is spool- and the CRC-32C of the peers text: every broker given the same --peers agrees")
    func defaultClusterID() {
        let id = ClusterIdentity.defaultClusterID(voters: Self.voters)
        let expected = CRC32C.checksum(Array("1=127.0.0.1:7171,2=127.0.0.1:7172,3=127.0.0.1:7173".utf8))
        #expect(id == "spool-" + String(expected, radix: 16).leftPadded(to: 8))
        #expect(id.count == 14 && id.hasPrefix("spool-"))
        #expect(Self.node(1).clusterID == Self.node(3).clusterID)
        var moved = Self.voters
        moved[NodeID(3)] = "127.0.0.1:7174"
        #expect(ClusterIdentity.defaultClusterID(voters: moved) != id)
        // A checksum with leading zero digits keeps all eight.
        let small = (0..<2000).map { ClusterIdentity.defaultClusterID(voters: [NodeID(1): "h:\($0 + 1)"]) }
        #expect(small.allSatisfy { $0.count == 14 })
    }

    @Test("a new folder records what it is given; the same start later matches")
    func newFolder() {
        #expect(Self.node(1).decide(remembered: nil) == .record)
        #expect(ClusterIdentity.singleBroker.decide(remembered: nil) == .record)
        #expect(Self.node(1).decide(remembered: Self.node(1)) == .matches)
        #expect(ClusterIdentity.singleBroker.decide(remembered: .singleBroker) == .matches)
        // A broker from before clusters may keep running alone.
        #expect(ClusterIdentity.singleBroker.decide(remembered: nil, singleBrokerData: true) == .record)
    }

    @Test("another node id, peers list or cluster id is refused, and the message says what the folder has and what was given")
    func mismatches() throws {
        func refusal(_ given: ClusterIdentity, _ remembered: ClusterIdentity?, singleBrokerData: Bool = false) -> String {
            guard case .refuse(let message) = given.decide(remembered: remembered, singleBrokerData: singleBrokerData) else { return "" }
            return message
        }
        #expect(refusal(Self.node(2), Self.node(1)).contains("--node-id: the folder has 1, given 2"))
        var others = Self.voters
        others[NodeID(3)] = "127.0.0.1:7999"
        let peers = refusal(Self.node(1, voters: others, clusterID: "c"), Self.node(1, clusterID: "c"))
        #expect(peers.contains("--peers: the folder has 1=127.0.0.1:7171,2=127.0.0.1:7172,3=127.0.0.1:7173, given 1=127.0.0.1:7171,2=127.0.0.1:7172,3=127.0.0.1:7999"), "\(peers)")
        #expect(!peers.contains("--cluster-id"))
        #expect(refusal(Self.node(1, clusterID: "blue"), Self.node(1, clusterID: "green")).contains("--cluster-id: the folder has green, given blue"))
        let withoutOptions = refusal(.singleBroker, Self.node(2))
        #expect(withoutOptions.contains("belongs to node 2 of cluster \(Self.node(2).clusterID)") && withoutOptions.contains("--node-id 2 --peers 1=127.0.0.1:7171"), "\(withoutOptions)")
        #expect(refusal(Self.node(1), .singleBroker).contains("belongs to a single broker"))
        #expect(refusal(Self.node(1), nil, singleBrokerData: true).contains("written by a single broker"))
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
