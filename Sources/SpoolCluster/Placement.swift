import Raft
import SpoolCore

/// How many replicas, and preferred leaderships, a broker already holds: placement evens these out.
public struct BrokerLoad: Hashable, Sendable {
    public var replicas: Int
    public var preferredLeaders: Int

    public init(replicas: Int = 0, preferredLeaders: Int = 0) {
        self.replicas = replicas
        self.preferredLeaders = preferredLeaders
    }
}

/// Chooses the brokers of each new partition. Pure and deterministic: the broker that takes a
/// `CREATE` computes it and proposes the result, so every broker applies the same placement.
public enum Placement {
    /// For each of `partitions`, `replication` distinct brokers; the first is the preferred leader.
    ///
    /// Each partition's preferred leader is the broker with the fewest preferred leaderships, then
    /// the fewest replicas; its followers are the brokers with the fewest replicas. Ties go round
    /// the sorted broker list from a point that moves with the partition, so an empty cluster gets
    /// exactly even counts whenever `partitions` is a multiple of the broker count, and followers
    /// of one broker's partitions are spread over the others instead of always the same pair.
    public static func place(
        partitions: Int, replication: Int, brokers: [NodeID], load: [NodeID: BrokerLoad] = [:]
    ) throws(SpoolError) -> [[NodeID]] {
        let sorted = Array(Set(brokers)).sorted()
        guard partitions >= 1 else { throw SpoolError(.badArgument, "partitions must be at least 1") }
        guard replication >= 1 else { throw SpoolError(.badArgument, "replication must be at least 1") }
        guard replication <= sorted.count else {
            throw SpoolError(
                .badArgument, "replication=\(replication) needs \(replication) brokers; the cluster has \(sorted.count)")
        }
        var load = load
        let n = sorted.count
        var result: [[NodeID]] = []
        result.reserveCapacity(partitions)
        for p in 0..<partitions {
            // Position relative to a start that moves by one per partition: the tie-breaker.
            func rotated(_ i: Int, from start: Int) -> Int { (i - start % n + n) % n }
            let leaderIndex = sorted.indices.min { a, b in
                let la = load[sorted[a], default: BrokerLoad()], lb = load[sorted[b], default: BrokerLoad()]
                return (la.preferredLeaders, la.replicas, rotated(a, from: p)) < (lb.preferredLeaders, lb.replicas, rotated(b, from: p))
            }!
            var replicas = [sorted[leaderIndex]]
            // Followers start after the leader, shifted by how often the list has wrapped, so a
            // leader's partitions do not all share one follower set.
            let followerStart = leaderIndex + 1 + (p / n) % max(1, n - 1)
            while replicas.count < replication {
                let next = sorted.indices.filter { !replicas.contains(sorted[$0]) }.min { a, b in
                    let ra = load[sorted[a], default: BrokerLoad()].replicas, rb = load[sorted[b], default: BrokerLoad()].replicas
                    return (ra, rotated(a, from: followerStart)) < (rb, rotated(b, from: followerStart))
                }!
                replicas.append(sorted[next])
                load[sorted[next], default: BrokerLoad()].replicas += 1
            }
            load[sorted[leaderIndex], default: BrokerLoad()].replicas += 1
            load[sorted[leaderIndex], default: BrokerLoad()].preferredLeaders += 1
            result.append(replicas)
        }
        return result
    }

    /// The load that `topics` put on each broker (every broker of `brokers` appears, at zero).
    public static func load(of topics: some Sequence<TopicPlacement>, brokers: [NodeID]) -> [NodeID: BrokerLoad] {
        var load: [NodeID: BrokerLoad] = [:]
        for broker in brokers { load[broker] = BrokerLoad() }
        for topic in topics {
            for replicas in topic.replicas {
                for (position, broker) in replicas.enumerated() {
                    load[broker, default: BrokerLoad()].replicas += 1
                    if position == 0 { load[broker, default: BrokerLoad()].preferredLeaders += 1 }
                }
            }
        }
        return load
    }
}
