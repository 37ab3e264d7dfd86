/// Shapes of fault load. The seed picks one (`seed % 4`), so a sweep of consecutive seeds covers
/// all of them; each stresses a different part of Raft.
public enum SimulationProfile: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// The default message faults and fault plan.
    case standard
    /// Heavy loss, duplication and reordering.
    case lossy
    /// One entry per append and one append in flight, tiny retention: slow catch-up, many
    /// snapshots, and acknowledgements that cover an old-term entry but not the new leader's no-op
    /// (the situation Raft §5.4.2 guards against).
    case tightFlow
    /// Short election timeouts, busy leaders and faults every few ticks: many terms and leaders.
    case chaotic

    public init(seed: UInt64) { self = SimulationProfile(rawValue: UInt8(seed % 4))! }

    public var description: String {
        switch self {
        case .standard: "standard"
        case .lossy: "lossy"
        case .tightFlow: "tight-flow"
        case .chaotic: "chaotic"
        }
    }

    func apply(to options: inout SimulationOptions) {
        switch self {
        case .standard:
            break
        case .lossy:
            options.lossPerMille = 300
            options.duplicationPerMille = 100
            options.longDelayPerMille = 100
        case .tightFlow:
            options.maxEntriesPerAppend = 1
            options.maxInflightAppendsPerFollower = 1
            options.retainedEntriesLimit = 6
            options.compactionLagEntries = 1
        case .chaotic:
            // One entry per append, but the standard window: at one entry per round trip the
            // followers could not carry the busy leaders' load (it only looked as if they could
            // while heartbeat responses let appends beyond the window through, issue 16).
            // `tightFlow` is the profile for a window of one.
            options.maxEntriesPerAppend = 1
            options.proposalPerMille = 600
            options.heartbeatIntervalTicks = 1
            options.electionTimeoutTicks = 5
            options.snapshotRetryTicks = 10
            options.minFaultGapTicks = 3
            options.maxFaultGapTicks = 15
        }
    }
}
