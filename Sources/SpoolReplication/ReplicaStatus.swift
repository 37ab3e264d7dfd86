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
    /// The offset after the last committed record: what readers may see (the high watermark).
    public var highWatermark: Offset
    /// Proposals accepted and not yet committed or failed.
    public var pendingProposals: Int
    /// Write transactions so far, and how many of them were synced (one fsync each).
    public var writes: Int
    public var syncedWrites: Int
    public var stopped: Bool

    public var description: String {
        "\(role) \(term) leader=\(leader) commit=\(commitIndex) last=\(lastIndex) high=\(highWatermark) pending=\(pendingProposals)"
    }
}
