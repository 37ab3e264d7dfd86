import Synchronization
import SpoolCore

/// A topic on this broker: its partitions, in partition order.
final class Topic: Sendable {
    let name: TopicName
    let partitions: [PartitionLog]
    let createdMs: Int64
    /// Keyless records are spread round-robin from here.
    private let nextKeyless = Atomic<Int>(0)

    init(name: TopicName, partitions: [PartitionLog], createdMs: Int64) {
        precondition(!partitions.isEmpty, "a topic has at least one partition")
        precondition(partitions.enumerated().allSatisfy { $0.offset == Int($0.element.id.rawValue) }, "partitions in order")
        self.name = name
        self.partitions = partitions
        self.createdMs = createdMs
    }

    /// The partition, if it exists and serves (`PARTITION_OFFLINE` when its file is lost or
    /// damaged).
    func partition(_ id: PartitionID) throws(SpoolError) -> PartitionLog {
        guard id.rawValue >= 0, Int(id.rawValue) < partitions.count else {
            throw SpoolError(.unknownPartition, "topic \(name) has partitions 0...\(partitions.count - 1), not \(id)")
        }
        let log = partitions[Int(id.rawValue)]
        if log.isOffline { throw log.offlineError() }
        return log
    }

    /// How many partitions are out of service.
    var offlineCount: Int { partitions.count(where: \.isOffline) }

    /// The next partition for a keyless record: round-robin over the partitions that serve (a
    /// keyless record has no partition of its own, so one that is offline or recovering from a
    /// failed write is skipped, as Kafka's producer skips unavailable partitions).
    func nextKeylessPartition() -> PartitionID {
        for _ in 0..<partitions.count {
            let n = nextKeyless.wrappingAdd(1, ordering: .relaxed).oldValue
            let id = (n & Int.max) % partitions.count
            if partitions[id].takesWrites { return PartitionID(id) }
        }
        return PartitionID(0)  // none takes writes: the append answers PARTITION_OFFLINE
    }
}
