/// How much durability a producer waits for before its `OK`.
public enum Acks: String, Sendable, CaseIterable {
    /// Reply as soon as the record is queued for its partition; the offset is not known yet.
    case none
    /// Reply once the partition leader has committed and fsynced the record.
    case leader
    /// Reply once a majority of replicas hold the record. With one replica this is `leader`.
    case all
}
