/// A partition on its way from one member to another: revoked from `from`, not yet confirmed.
///
/// Until the driver calls `revocationCompleted` (or `revocationTimeoutMs` passes), `from` still
/// owns the partition: it receives nothing new but may commit. Then `to` gets `.assign`. `to` is
/// recomputed at every rebalance, so it is always a live member subscribed to the topic.
public struct PendingMove: Sendable, Equatable, CustomStringConvertible {
    public var partition: TopicPartition
    public var from: MemberID
    public var to: MemberID
    /// When the revocation was issued, in the driver's milliseconds.
    public var sinceMs: Int64

    public init(partition: TopicPartition, from: MemberID, to: MemberID, sinceMs: Int64) {
        self.partition = partition
        self.from = from
        self.to = to
        self.sinceMs = sinceMs
    }

    public var description: String { "\(partition) \(from)->\(to) since=\(sinceMs)" }
}
