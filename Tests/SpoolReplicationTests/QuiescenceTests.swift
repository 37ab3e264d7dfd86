import Raft
import SpoolCore
import SpoolReplication
import Testing

/// Quiescence (docs/replication.md, "Quiescence"): an idle group stops ticking and heartbeating,
/// and whatever could need it — a write, its leader's broker going away or silent, its leader's
/// replica stopping on a live broker — wakes it in time to elect a new leader.
@Suite("Replica driver: quiescence", .timeLimit(.minutes(2)))
struct QuiescenceTests {
    /// Every replica of `cluster` among `members` quiesced.
    static func waitQuiesced(_ cluster: ReplicaTestCluster, _ members: [NodeID]? = nil) async throws {
        let members = members ?? cluster.running
        do {
            try await eventually(timeout: .seconds(10), "every replica of \(members) quiesced") {
                members.allSatisfy { cluster.status($0).quiesced }
            }
        } catch {
            Issue.record("statuses: \(cluster.describe())")
            throw error
        }
    }

    /// A leader elected, 10 records committed everywhere, and every replica quiesced.
    static func quietGroup(_ cluster: ReplicaTestCluster) async throws {
        _ = try await cluster.waitForLeader()
        _ = try await proposeOnLeader(produceBatch("a", count: 10), cluster: cluster)
        try await cluster.waitForHighWatermark(Offset(10))
        try await waitQuiesced(cluster)
    }

    @Test func anIdleGroupGoesQuietSendsNothingAndWakesForAWrite() async throws {
        try await ReplicaTestCluster.with(nodes: 3, quiesce: true) { cluster in
            try await Self.quietGroup(cluster)

            // Quiet: 40 ticks (1 s) pass on every broker; no node is given one and no Raft
            // message goes out (keepalives are frames of their own, not messages). Counted from
            // 10 ticks after the last replica went quiet, when its answer to the quiesce
            // heartbeat has left.
            let settling = cluster.ids.map { cluster.rounds($0) }
            try await eventually(timeout: .seconds(10), "10 more ticks of every broker's clock") {
                zip(cluster.ids, settling).allSatisfy { cluster.rounds($0) >= $1 + 10 }
            }
            let givenBefore = cluster.ids.map { cluster.status($0).ticks }
            let sentBefore = cluster.ids.map { cluster.messagesSent($0) }
            let changesBefore = cluster.ids.map { cluster.livenessChanges($0) }
            let rounds = cluster.ids.map { cluster.rounds($0) }
            try await eventually(timeout: .seconds(10), "40 more ticks of every broker's clock") {
                zip(cluster.ids, rounds).allSatisfy { cluster.rounds($0) >= $1 + 40 }
            }
            let givenAfter = cluster.ids.map { cluster.status($0).ticks }
            let sentAfter = cluster.ids.map { cluster.messagesSent($0) }
            // A peer late past the liveness timeout (a loaded machine) wakes the group, rightly;
            // only a window without one must be silent.
            if cluster.ids.map({ cluster.livenessChanges($0) }) == changesBefore {
                #expect(givenAfter == givenBefore, "a quiesced node is given no tick: \(cluster.describe())")
                #expect(sentAfter == sentBefore, "a quiesced group sends nothing")
            }
            try await Self.waitQuiesced(cluster)

            // A write wakes it, commits everywhere, and it goes quiet again.
            let offset = try await proposeOnLeader(produceBatch("b", count: 5), cluster: cluster)
            #expect(offset == Offset(10))
            try await cluster.waitForHighWatermark(Offset(15))
            try await Self.waitQuiesced(cluster)
            try ReplicatedDriverTests.expectIdenticalFiles(cluster, highWatermark: Offset(15))
        }
    }

    @Test func aQuiescedGroupElectsANewLeaderWhenTheLeadersBrokerGoesAway() async throws {
        try await ReplicaTestCluster.with(nodes: 3, quiesce: true) { cluster in
            try await Self.quietGroup(cluster)
            let old = try #require(cluster.currentLeader())
            await cluster.stop(old)
            let others = cluster.ids.filter { $0 != old }
            let leader = try await cluster.waitForLeader(among: others)
            #expect(leader != old)
            _ = try await proposeOnLeader(produceBatch("b", count: 5), cluster: cluster, among: others)
            try await cluster.waitForHighWatermark(Offset(15), among: others)

            // Back on its file: it follows, catches up, and the group goes quiet again with it.
            try await cluster.start(old)
            try await cluster.waitForHighWatermark(Offset(15))
            try await Self.waitQuiesced(cluster)
            try ReplicatedDriverTests.expectIdenticalFiles(cluster, highWatermark: Offset(15))
        }
    }

    /// The leader's connections stay open but carry nothing (a SIGSTOPped broker): only the
    /// keepalives' silence can tell the quiet followers.
    @Test func aQuiescedGroupElectsANewLeaderWhenTheLeadersBrokerFallsSilent() async throws {
        try await ReplicaTestCluster.with(nodes: 3, quiesce: true) { cluster in
            try await Self.quietGroup(cluster)
            let old = try #require(cluster.currentLeader())
            cluster.stall(old)
            let others = cluster.ids.filter { $0 != old }
            let leader = try await cluster.waitForLeader(among: others)
            #expect(leader != old)
            _ = try await proposeOnLeader(produceBatch("b", count: 5), cluster: cluster, among: others)

            // Heal: the old leader hears the new term, steps down and catches up.
            cluster.heal()
            try await cluster.waitForHighWatermark(Offset(15))
            _ = try await cluster.waitForLeader()
            try ReplicatedDriverTests.expectIdenticalFiles(cluster, highWatermark: Offset(15))
        }
    }

    /// The leader's replica stops while its broker stays up and connected (a partition taken
    /// offline): the keepalive's generation tells the followers.
    @Test func aQuiescedGroupElectsANewLeaderWhenTheLeadersReplicaStopsOnALiveBroker() async throws {
        try await ReplicaTestCluster.with(nodes: 3, quiesce: true) { cluster in
            try await Self.quietGroup(cluster)
            let old = try #require(cluster.currentLeader())
            await cluster.stopReplica(old)
            let others = cluster.ids.filter { $0 != old }
            let leader = try await cluster.waitForLeader(among: others)
            #expect(leader != old)
            _ = try await proposeOnLeader(produceBatch("b", count: 5), cluster: cluster, among: others)
            try await cluster.waitForHighWatermark(Offset(15), among: others)
        }
    }

    /// What the leader's broker sends is held a little past the liveness timeout (300 ms here)
    /// while it still hears the others, so nothing tells it anything changed; healed before the
    /// woken followers' election timeout (40 ticks here: 1-2 s from the wake) runs out. The
    /// followers wake the quiet leader (their acknowledgement reaches it), it heartbeats again,
    /// and nobody is elected. Without that wake the followers' timers run out: a new term.
    @Test func aShortStallOfTheLeadersBrokerDoesNotMoveLeadership() async throws {
        try await ReplicaTestCluster.with(nodes: 3, quiesce: true, electionTimeoutTicks: 40) { cluster in
            try await Self.quietGroup(cluster)
            let leader = try #require(cluster.currentLeader())
            let term = cluster.status(leader).term
            let followers = cluster.ids.filter { $0 != leader }
            cluster.stallFrom(leader)
            do {
                var woken: Set<NodeID> = []
                try await eventually(timeout: .seconds(5), pollEvery: .milliseconds(5), "the followers woken by the silence") {
                    for follower in followers where !cluster.status(follower).quiesced { woken.insert(follower) }
                    return woken.count == followers.count
                }
            } catch {
                Issue.record("statuses: \(cluster.describe())")
                throw error
            }
            cluster.heal()
            // 100 ticks (2.5 s, more than an election timeout) on every broker: the same leader
            // and term, and the group quiet again.
            let rounds = cluster.ids.map { cluster.rounds($0) }
            try await eventually(timeout: .seconds(15), "100 more ticks of every broker's clock") {
                zip(cluster.ids, rounds).allSatisfy { cluster.rounds($0) >= $1 + 100 }
            }
            #expect(cluster.currentLeader() == leader)
            #expect(cluster.ids.allSatisfy { cluster.status($0).term == term }, "\(cluster.describe())")
            try await Self.waitQuiesced(cluster)
        }
    }

    @Test func withoutQuiescenceAnIdleGroupKeepsHeartbeating() async throws {
        try await ReplicaTestCluster.with(nodes: 3) { cluster in
            let leader = try await cluster.waitForLeader()
            _ = try await proposeOnLeader(produceBatch("a", count: 10), cluster: cluster)
            try await cluster.waitForHighWatermark(Offset(10))
            let sent = cluster.messagesSent(leader)
            let received = cluster.driver(leader).receivedTicks
            try await eventually(timeout: .seconds(10), "20 more ticks posted") { cluster.driver(leader).receivedTicks >= received + 20 }
            #expect(cluster.messagesSent(leader) > sent, "the leader heartbeats")
            #expect(!cluster.ids.contains { cluster.status($0).quiesced })
        }
    }
}
