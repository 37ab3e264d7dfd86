import Raft
import SpoolCore

/// What a replica's driver last published, after its most recent cycle (readable from any thread).
public struct ReplicaStatus: Hashable, Sendable, CustomStringConvertible {
    public var role: Role
    public var term: Term
    /// The leader this replica knows of, `NodeID.none` when none.
    public var leader: NodeID
    public var commitIndex: LogIndex
    public var lastIndex: LogIndex
    /// The last index a successful write left in the file (`lastIndex` counts entries not yet
    /// persisted): after a failed write, nothing past it was ever reported durable.
    public var durableIndex: LogIndex
    /// The offset after the newest record in the file (committed or not).
    public var nextOffset: Offset
    /// The offset after the last committed record: what readers may see (the high watermark).
    public var highWatermark: Offset
    /// Proposals accepted and not yet committed or failed.
    public var pendingProposals: Int
    /// Write transactions so far, and how many of them were synced (one fsync each).
    public var writes: Int
    public var syncedWrites: Int
    /// Ticks the node has been given (the ticks a `ReplicaTicker` posted, minus those still held).
    public var ticks: Int
    public var stopped: Bool
    /// Why the replica stopped writing, once a write to its file failed: it takes no proposals,
    /// steps no messages and sends nothing from then on (docs/replication.md §11). Nil while healthy.
    public var storageFailure: String?
    /// True while a write waits for another connection's lock on the file (it is retried from a
    /// timer until `ReplicaConfig.lockWaitMs`).
    public var blocked: Bool = false
    /// On a leader, the voters holding every committed entry (itself included); empty elsewhere.
    public var inSync: [NodeID] = []
    /// The group is quiet (`ReplicaConfig.quiesceWhenIdle`): no ticks, no heartbeats until woken.
    public var quiesced = false
    /// On a leader, whether an entry of its own term is committed: only then does its commit
    /// index (and what it applied, such as consumer offsets) cover everything committed before
    /// it took over (Raft §8: a new leader learns the commit point by committing in its term).
    public var committedInTerm = false

    public var description: String {
        "\(role) \(term) leader=\(leader) commit=\(commitIndex) last=\(lastIndex) high=\(highWatermark) pending=\(pendingProposals) ticks=\(ticks)\(quiesced ? " quiesced" : "")\(storageFailure.map { " storage failed: \($0)" } ?? "")"
    }
}
