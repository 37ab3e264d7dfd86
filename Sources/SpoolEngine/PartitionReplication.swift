import Raft
import SpoolCluster
import SpoolCore
import SpoolReplication

/// How this broker's partitions run their Raft groups: its node id, the one clock of every
/// group (`ReplicaTicker`), where their messages go, and the replica settings. A broker without
/// cluster options is a cluster of one: every partition is a group whose only voter is this node.
struct PartitionReplication: Sendable {
    let node: NodeID
    let ticker: ReplicaTicker
    let sender: any RaftMessageSender
    /// Where replicas of groups with other voters register for their incoming messages.
    let router: ReplicaRouter?
    let config: ReplicaConfig

    init(node: NodeID, ticker: ReplicaTicker, router: ReplicaRouter, limits: SpoolLimits) {
        self.node = node
        self.ticker = ticker
        self.sender = router
        self.router = router
        var config = ReplicaConfig(raft: RaftConfig(id: node, voters: [node]))
        // The storage threads are shared by every partition: a write never sleeps on another
        // connection's lock; the replica retries it from a timer, up to the partition lock wait.
        config.storeBusyWaitMs = 0
        config.lockWaitMs = limits.partitionLockWaitMs
        // A whole cut batch (records and its offset commits) fits one cycle's proposals.
        config.maxProposalBytesPerCycle = max(config.maxProposalBytesPerCycle, 2 * limits.commitBatchBytes + (1 << 20))
        self.config = config
    }

    /// The partition's group. A topic's number comes from its name until the metadata group
    /// assigns topic ids (a group of one voter sends no message, so nothing routes by it yet).
    func group(_ topic: TopicName, _ partition: PartitionID) -> RaftGroupID {
        let checksum = CRC32C.checksum(Array(topic.value.utf8))
        return RaftGroupID(topic: TopicID(max(1, checksum)), partition: partition)
    }
}
