/// How far logical time can run with nothing but counting, for a driver that ticks many groups
/// and wants idle ones to skip work (docs/replication.md §11, "Ticks").
extension RaftNode {
    /// The number of ticks after which the next `tick()` may act. The first
    /// `ticksUntilTimerFires - 1` ticks only advance the node's elapsed counters: no message, no
    /// role, term or Ready change. The tick that makes the count reach this value may act: a
    /// follower's or candidate's randomized election timeout (Raft §5.2), a leader's heartbeat,
    /// its check-quorum and transfer deadline (thesis §6.2, §3.10) or a snapshot retry.
    ///
    /// A driver may therefore hold back up to `ticksUntilTimerFires - 1` ticks, but must deliver
    /// every tick it holds, in order, before it steps a message or proposes (a vote's leader-lease
    /// check reads the elapsed time), and once it holds `ticksUntilTimerFires`. `Int.max` when
    /// no tick can act (a follower that may not campaign; a leader alone in its group with no
    /// transfer pending). Always at least 1.
    public var ticksUntilTimerFires: Int {
        switch role {
        case .follower, .preCandidate, .candidate:
            guard isPromotable else { return .max }
            return max(1, randomizedElectionTimeout - electionElapsed)
        case .leader:
            var due = Int.max
            let hasPeers = config.voters.count > 1
            if hasPeers {
                // Heartbeats go to peers only; a lone leader's check-quorum always finds itself.
                due = min(due, config.heartbeatIntervalTicks - heartbeatElapsed)
                due = min(due, config.electionTimeoutTicks - electionElapsed)
                for voter in config.voters where voter != id && progress[voter]!.state == .snapshot {
                    due = min(due, config.snapshotRetryTicks - progress[voter]!.snapshotElapsedTicks)
                }
            } else if leadTransferee != .none {
                due = min(due, config.electionTimeoutTicks - electionElapsed)
            }
            return max(1, due)
        }
    }
}
