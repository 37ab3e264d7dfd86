import SpoolClient
import SpoolCore
import SpoolProtocol

/// The next offset to print in each partition of a subscription, so that a subscription made
/// again on another broker prints every record once: nothing twice, nothing skipped.
///
/// `SUB` takes one `from=` for every partition, so a resumed subscription starts at the lowest
/// next offset of all partitions and the records below a partition's own next offset (already
/// printed) are dropped here. The cost is re-reading those records once per switch; a topic whose
/// partitions are far apart re-reads more.
struct ResumePositions {
    private(set) var next: [PartitionID: Offset]

    init(next: [PartitionID: Offset]) {
        precondition(!next.isEmpty, "a topic has at least one partition")
        self.next = next
    }

    /// Start positions for `from` over the partitions `DESCRIBE` listed.
    init(partitions: [PartitionInfo], from: StartPosition) {
        var next: [PartitionID: Offset] = [:]
        for info in partitions {
            switch from {
            case .earliest: next[PartitionID(info.partition)] = Offset(info.low)
            case .latest: next[PartitionID(info.partition)] = Offset(info.high)
            case .offset(let offset): next[PartitionID(info.partition)] = offset
            }
        }
        self.init(next: next)
    }

    /// `from=` for a resumed `SUB`: the lowest next offset.
    var subscribeFrom: StartPosition { .offset(next.values.min()!) }

    /// True when `message` is new (and records it as printed); false for one printed before.
    mutating func accept(_ message: Message) -> Bool {
        if let expected = next[message.partition], message.offset < expected { return false }
        next[message.partition] = Offset(message.offset.rawValue + 1)
        return true
    }
}
