import Raft
import SpoolCluster
import SpoolCore
import Synchronization

/// A topic on this broker: its shape, and the partitions this broker holds a replica of, in
/// partition order. On a single broker that is every partition; in a cluster, those the
/// metadata group placed here (`placement`).
final class Topic: Sendable {
    let name: TopicName
    /// The partitions this broker holds, in partition order.
    let partitions: [PartitionLog]
    let partitionCount: Int
    let createdMs: Int64
    /// Where the cluster placed each partition's replicas; nil for a single broker's topic.
    let placement: TopicPlacement?
    /// Index into `partitions` of each partition number, -1 for one held elsewhere.
    private let localIndex: [Int]
    /// Keyless records are spread round-robin from here.
    private let nextKeyless = Atomic<Int>(0)

    /// A single broker's topic: every partition is here.
    init(name: TopicName, partitions: [PartitionLog], createdMs: Int64) {
        precondition(!partitions.isEmpty, "a topic has at least one partition")
        precondition(partitions.enumerated().allSatisfy { $0.offset == Int($0.element.id.rawValue) }, "partitions in order")
        self.name = name
        self.partitions = partitions
        self.partitionCount = partitions.count
        self.createdMs = createdMs
        self.placement = nil
        self.localIndex = Array(partitions.indices)
    }

    /// A cluster's topic: `partitions` are the replicas this broker holds, in partition order.
    init(placement: TopicPlacement, partitions: [PartitionLog]) {
        precondition(zip(partitions, partitions.dropFirst()).allSatisfy { $0.id < $1.id }, "partitions in order")
        self.name = placement.name
        self.partitions = partitions
        self.partitionCount = placement.partitions
        self.createdMs = placement.createdMs
        self.placement = placement
        var index = [Int](repeating: -1, count: placement.partitions)
        for (position, log) in partitions.enumerated() { index[Int(log.id.rawValue)] = position }
        self.localIndex = index
    }

    var replication: Int { placement?.replication ?? 1 }

    /// The partition's replicas, this broker's first choice of leader first.
    func replicas(of id: PartitionID) -> [NodeID] {
        placement?.replicas[Int(id.rawValue)] ?? partitions.first.map { $0.voters } ?? []
    }

    /// This broker's replica of the partition, nil when it is held elsewhere (or the number is
    /// out of range).
    func local(_ id: PartitionID) -> PartitionLog? {
        guard id.rawValue >= 0, Int(id.rawValue) < partitionCount else { return nil }
        let position = localIndex[Int(id.rawValue)]
        return position >= 0 ? partitions[position] : nil
    }

    /// The partition, if it exists, is held here and serves (`PARTITION_OFFLINE` when its file
    /// is lost or damaged; `UNAVAILABLE` naming its replicas when this broker holds none).
    func partition(_ id: PartitionID) throws(SpoolError) -> PartitionLog {
        guard id.rawValue >= 0, Int(id.rawValue) < partitionCount else {
            throw SpoolError(.unknownPartition, "topic \(name) has partitions 0...\(partitionCount - 1), not \(id)")
        }
        guard let log = local(id) else {
            let replicas = replicas(of: id).map { String($0.rawValue) }.joined(separator: ",")
            throw SpoolError(
                .unavailable, "partition \(id) of \(name) has no replica on this broker (replicas \(replicas)); send it to one of them")
        }
        if log.isOffline { throw log.offlineError() }
        return log
    }

    /// How many partitions held here are out of service.
    var offlineCount: Int { partitions.count(where: \.isOffline) }

    /// The next partition for a keyless record: round-robin over the partitions this broker can
    /// write (a keyless record has no partition of its own, so one that is offline, recovering
    /// from a failed write, held elsewhere or led by another broker is skipped, as Kafka's
    /// producer skips unavailable partitions).
    /// With `anyLeader` (a cluster broker that forwards), a broker that leads none of them
    /// spreads its keyless records over every partition, each forwarded to its leader.
    func nextKeylessPartition(anyLeader: Bool = false) -> PartitionID {
        for _ in 0..<partitionCount {
            let n = nextKeyless.wrappingAdd(1, ordering: .relaxed).oldValue
            let id = PartitionID(Int32((n & Int.max) % partitionCount))
            if let log = local(id), log.takesWrites, log.leadsOrAlone { return id }
        }
        if anyLeader && placement != nil {
            let n = nextKeyless.wrappingAdd(1, ordering: .relaxed).oldValue
            return PartitionID(Int32((n & Int.max) % partitionCount))
        }
        return PartitionID(0)  // none takes writes here: the append says why
    }
}
