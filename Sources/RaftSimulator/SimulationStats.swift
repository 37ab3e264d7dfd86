/// Counters of one run, for the summary line.
public struct SimulationStats: Sendable, Hashable {
    public var messagesDelivered = 0
    public var messagesDropped = 0
    public var crashes = 0
    public var elections = 0
    public var proposed = 0
    /// Client proposals a leader turned away under backpressure (`maxUncommittedEntries`).
    public var proposalsRefused = 0
    public var acknowledged = 0
    public var compactions = 0
    public var snapshotsInstalled = 0
    public var leadershipTransfers = 0

    public init() {}
}
