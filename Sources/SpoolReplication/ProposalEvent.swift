import SpoolCore

/// What happens to one proposal, in this order: `accepted`, then `durable`, then `committed`; or
/// `failed` at any point. Exactly one of `committed` and `failed` ends it, and nothing follows.
///
/// The three successes are the producer's acks: `accepted` for acks=none (the leader put the batch
/// in its log and gave it offsets), `durable` for acks=leader (the leader's own fsync), `committed`
/// for acks=all (a majority holds it; it survives any failover). A durable entry can still fail
/// afterwards (`superseded` when another leader replaced it): acks=leader's known risk.
public enum ProposalEvent: Hashable, Sendable {
    /// In the leader's log at these offsets (first offset of the batch).
    case accepted(Offset)
    /// On the leader's disk (one transaction + fsync, shared with every proposal of its cycle).
    case durable(Offset)
    /// Committed by the group: readers see it once applied.
    case committed(Offset)
    case failed(ReplicaError)

    /// True for the events after which nothing follows.
    public var isFinal: Bool {
        switch self {
        case .committed, .failed: true
        case .accepted, .durable: false
        }
    }
}
