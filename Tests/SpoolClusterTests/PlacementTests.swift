import Raft
import SpoolCluster
import SpoolCore
import Testing

@Suite("Replica placement")
struct PlacementTests {
    static let three: [NodeID] = [1, 2, 3]
    static let five: [NodeID] = [1, 2, 3, 4, 5]

    static func counts(_ placement: [[NodeID]]) -> (replicas: [NodeID: Int], leaders: [NodeID: Int]) {
        var replicas: [NodeID: Int] = [:]
        var leaders: [NodeID: Int] = [:]
        for partition in placement {
            for broker in partition { replicas[broker, default: 0] += 1 }
            leaders[partition[0], default: 0] += 1
        }
        return (replicas, leaders)
    }

    @Test("an empty cluster gets exactly even replicas and preferred leaders",
          arguments: [(3, 3, 3), (3, 6, 2), (3, 12, 3), (5, 10, 3), (5, 20, 5), (5, 5, 1)])
    func evenOnAnEmptyCluster(brokers: Int, partitions: Int, replication: Int) throws {
        let ids = (1...brokers).map { NodeID(UInt64($0)) }
        let placement = try Placement.place(partitions: partitions, replication: replication, brokers: ids)
        #expect(placement.count == partitions)
        for partition in placement {
            #expect(partition.count == replication)
            #expect(Set(partition).count == replication, "a broker twice in \(partition)")
        }
        let (replicas, leaders) = Self.counts(placement)
        for id in ids {
            #expect(replicas[id] == partitions * replication / brokers, "replicas of \(id): \(replicas)")
            #expect(leaders[id] == partitions / brokers, "leaders of \(id): \(leaders)")
        }
    }

    /// Followers of one broker's partitions are not always the same brokers.
    @Test func followersOfOneLeaderSpread() throws {
        let placement = try Placement.place(partitions: 20, replication: 2, brokers: Self.five)
        let followersOfOne = Set(placement.filter { $0[0] == 1 }.map { $0[1] })
        #expect(followersOfOne.count >= 3, "broker 1's followers: \(followersOfOne)")
    }

    /// A new topic evens out the load earlier topics left.
    @Test func aNewTopicBalancesAgainstTheLoad() throws {
        let load: [NodeID: BrokerLoad] = [1: BrokerLoad(replicas: 4, preferredLeaders: 4), 2: BrokerLoad(), 3: BrokerLoad()]
        let placement = try Placement.place(partitions: 2, replication: 1, brokers: Self.three, load: load)
        #expect(!placement.flatMap { $0 }.contains(1), "\(placement)")
    }

    @Test func deterministicAndOrderFree() throws {
        let a = try Placement.place(partitions: 7, replication: 3, brokers: [3, 1, 2, 5, 4])
        let b = try Placement.place(partitions: 7, replication: 3, brokers: Self.five)
        #expect(a == b)
    }

    @Test func impossibleRequestsAreErrors() {
        #expect(throws: SpoolError.self) { try Placement.place(partitions: 3, replication: 4, brokers: Self.three) }
        #expect(throws: SpoolError.self) { try Placement.place(partitions: 0, replication: 1, brokers: Self.three) }
        #expect(throws: SpoolError.self) { try Placement.place(partitions: 1, replication: 0, brokers: Self.three) }
        #expect(throws: SpoolError.self) { try Placement.place(partitions: 1, replication: 1, brokers: []) }
        do {
            _ = try Placement.place(partitions: 3, replication: 4, brokers: Self.three)
        } catch {
            #expect(error.code == .badArgument)
            #expect(error.message.contains("the cluster has 3"))
        }
    }
}
