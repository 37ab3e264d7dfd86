import Raft
import Testing

/// `ticksUntilTimerFires`: the ticks before it only count, the tick that reaches it acts. A driver
/// that holds ticks back for idle groups (ReplicaTicker) relies on both halves.
@Suite("Timer deadlines")
struct TimerDeadlineTests {
    /// Ticks `harness` `ticks - 1` times, checking each tick changed nothing observable.
    func tickQuietly(_ harness: inout Harness, _ ticks: Int, _ note: String) {
        let before = (harness.node.role, harness.node.term, harness.node.leader)
        for tick in 1 ..< ticks {
            harness.tick()
            #expect(!harness.node.hasReady, "\(note): tick \(tick) of \(ticks - 1) held back made a Ready")
            #expect(harness.node.role == before.0 && harness.node.term == before.1 && harness.node.leader == before.2, "\(note): tick \(tick)")
        }
    }

    @Test(arguments: 1 ... 12 as ClosedRange<UInt64>)
    func aFollowerCampaignsExactlyAtItsRandomizedTimeout(seed: UInt64) {
        var harness = Harness(id: 1, voters: [1, 2, 3], seed: seed) { config in
            config.preVote = seed % 2 == 0
            config.checkQuorum = true
        }
        harness.drain()
        for round in 0 ..< 5 {
            let due = harness.node.ticksUntilTimerFires
            #expect(due >= 1 && due <= 2 * 10, "seed \(seed) round \(round): \(due)")
            tickQuietly(&harness, due, "seed \(seed) round \(round)")
            harness.tick()
            #expect(harness.node.role != .follower, "seed \(seed) round \(round): no campaign at tick \(due)")
            let messages = harness.drain()
            #expect(messages.contains { $0.kind == .vote || $0.kind == .preVote })
        }
    }

    @Test func aLeaderWithPeersActsAtEachHeartbeatAndAtItsCheckQuorum() {
        var harness = Harness(id: 1, voters: [1, 2, 3]) { config in
            config.checkQuorum = true
            config.heartbeatIntervalTicks = 2
            config.electionTimeoutTicks = 10
        }
        harness.becomeReplicatingLeader()
        var steppedDown = false
        for round in 0 ..< 12 where !steppedDown {
            let due = harness.node.ticksUntilTimerFires
            #expect(due >= 1 && due <= 2, "round \(round): \(due)")
            tickQuietly(&harness, due, "round \(round)")
            harness.tick()
            // Either a heartbeat or, with no follower heard from, the check-quorum step-down.
            steppedDown = harness.node.role != .leader
            #expect(steppedDown || harness.node.hasReady, "round \(round): the tick at \(due) did nothing")
            harness.drain()
        }
        #expect(steppedDown, "check quorum fired within 24 ticks of silence")
    }

    @Test func aLoneLeaderNeverNeedsATick() {
        var harness = Harness(id: 1, voters: [1]) { $0.checkQuorum = true }
        harness.node.campaign()
        harness.drain()
        #expect(harness.node.role == .leader)
        #expect(harness.node.ticksUntilTimerFires == .max)
        for _ in 0 ..< 100 { harness.tick() }
        #expect(!harness.node.hasReady)
        #expect(harness.node.role == .leader)
    }
}
