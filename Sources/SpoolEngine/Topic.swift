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

    func partition(_ id: PartitionID) throws(SpoolError) -> PartitionLog {
        guard id.rawValue >= 0, Int(id.rawValue) < partitions.count else {
            throw SpoolError(.unknownPartition, "topic \(name) has partitions 0...\(partitions.count - 1), not \(id)")
        }
        return partitions[Int(id.rawValue)]
    }

    /// The next partition for a keyless record.
    func nextKeylessPartition() -> PartitionID {
        let n = nextKeyless.wrappingAdd(1, ordering: .relaxed).oldValue
        return PartitionID((n & Int.max) % partitions.count)
    }
}
