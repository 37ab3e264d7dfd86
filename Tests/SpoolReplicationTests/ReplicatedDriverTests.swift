import Raft
import SpoolCore
import SpoolReplication
import Testing

/// Three replicas of one partition in this process, each with its own transport and file,
/// connected over real TCP through fault proxies.
@Suite("Replica driver: three voters over TCP", .timeLimit(.minutes(2)))
struct ReplicatedDriverTests {
    /// Every running replica holds the same records, row for row (offset, timestamp, key,
    /// value), and they are exactly the committed ones.
    static func expectIdenticalFiles(_ cluster: ReplicaTestCluster, highWatermark: Offset, among: [NodeID]? = nil) throws {
        let members = among ?? cluster.ids
        let reference = try storedRecords(cluster.path(members[0]))
        #expect(reference.count == Int(highWatermark.rawValue), "replica \(members[0]) holds \(reference.count) records")
        #expect(reference.map(\.offset) == Array(0 ..< highWatermark.rawValue), "gap-free from 0")
        for id in members.dropFirst() {
            let records = try storedRecords(cluster.path(id))
            #expect(records == reference, "replica \(id) differs from replica \(members[0])")
        }
    }

    @Test func aLeaderIsElectedItsProposalsCommitAndEveryFileHoldsTheSameRows() async throws {
        try await ReplicaTestCluster.with(nodes: 3) { cluster in
            let leader = try await cluster.waitForLeader()
            let offsets = try await withThrowingTaskGroup(of: (Int, Offset).self) { tasks in
                for i in 0 ..< 30 {
                    tasks.addTask { (i, try await proposeOnLeader(produceBatch("b\(i)", count: 20), cluster: cluster)) }
                }
                var offsets: [Int: Offset] = [:]
                for try await (i, offset) in tasks { offsets[i] = offset }
                return offsets
            }
            #expect(offsets.values.map(\.rawValue).sorted() == Array(stride(from: 0, to: 600, by: 20)), "one gap-free range per batch")
            try await cluster.waitForHighWatermark(Offset(600))
            try Self.expectIdenticalFiles(cluster, highWatermark: Offset(600))
            let stored = try storedRecords(cluster.path(leader))
            for (i, offset) in offsets {
                let first = Int(offset.rawValue)
                #expect(stored[first ..< first + 20].map(\.value) == (0 ..< 20).map { "b\(i)-\($0)" }, "batch \(i) at its offsets")
            }

            // A follower refuses, naming the leader.
            let current = try await cluster.waitForLeader()
            let follower = cluster.ids.first { $0 != current }!
            await #expect(throws: ReplicaError.notLeader(leaderHint: current)) {
                try await cluster.driver(follower).propose(records: produceBatch("refused", count: 1))
            }
        }
    }

    /// The leader goes away with an uncommitted suffix of its own; the others elect a leader,
    /// commit at the same offsets; the old leader comes back on its file, its suffix is replaced
    /// and it holds the same rows.
    @Test func aStoppedLeaderIsReplacedAndCatchesUpOnItsFileWithItsUncommittedSuffixTruncated() async throws {
        try await ReplicaTestCluster.with(nodes: 3) { cluster in
            let old = try await cluster.waitForLeader()
            for i in 0 ..< 10 { _ = try await proposeOnLeader(produceBatch("c\(i)", count: 10), cluster: cluster) }
            try await cluster.waitForHighWatermark(Offset(100))

            // Cut off, it still takes proposals (its lease has not run out): written, never committed.
            cluster.isolate(old)
            let events = ProposalEvents()
            for i in 0 ..< 3 { cluster.driver(old).propose(records: produceBatch("lost\(i)", count: 5), events.recorder(i)) }
            try await eventually("the cut-off leader's proposals are on its disk") {
                (0 ..< 3).allSatisfy { events.of($0).contains(where: { if case .durable = $0 { true } else { false } }) }
            }
            await cluster.stop(old)
            // Failed either by the stop, or, on a slow machine, once it stepped down (check
            // quorum) and `deposedProposalTicks` passed; never committed.
            #expect(
                (0 ..< 3).allSatisfy { i in
                    switch events.of(i).last {
                    case .failed(.stopped)?, .failed(.notLeader)?: true
                    default: false
                    }
                }, "\(events.all)")
            let suffix = try storedRecords(cluster.path(old)).filter { $0.value.hasPrefix("lost") }
            #expect(suffix.map(\.offset) == Array(100 ..< 115), "the uncommitted suffix is in the old leader's file")
            cluster.heal()

            let others = cluster.ids.filter { $0 != old }
            let started = ContinuousClock.now
            let new = try await cluster.waitForLeader(among: others, within: .seconds(5))
            let electedAfter = ContinuousClock.now - started
            #expect(new != old)
            #expect(electedAfter < .seconds(5), "new leader after \(electedAfter)")
            for i in 0 ..< 10 { _ = try await proposeOnLeader(produceBatch("d\(i)", count: 10), cluster: cluster) }
            try await cluster.waitForHighWatermark(Offset(200), among: others)

            try await cluster.start(old)
            try await cluster.waitForHighWatermark(Offset(200))
            try Self.expectIdenticalFiles(cluster, highWatermark: Offset(200))
            let values = try storedRecords(cluster.path(old)).map(\.value)
            #expect(!values.contains { $0.hasPrefix("lost") }, "the suffix was truncated")
        }
    }

    /// An isolated leader stays up: the others elect a new one and go on; what the old one took
    /// never completes as committed, and fails soon after it steps down; healed, it converges.
    @Test func anIsolatedLeaderNeverCommitsAndConvergesAfterHeal() async throws {
        try await ReplicaTestCluster.with(nodes: 3) { cluster in
            let old = try await cluster.waitForLeader()
            for i in 0 ..< 5 { _ = try await proposeOnLeader(produceBatch("e\(i)", count: 10), cluster: cluster) }
            try await cluster.waitForHighWatermark(Offset(50))

            cluster.isolate(old)
            let events = ProposalEvents()
            for i in 0 ..< 3 { cluster.driver(old).propose(records: produceBatch("iso\(i)", count: 5), events.recorder(i)) }
            let others = cluster.ids.filter { $0 != old }
            let new = try await cluster.waitForLeader(among: others, within: .seconds(5))
            #expect(new != old)
            for i in 0 ..< 5 { _ = try await proposeOnLeader(produceBatch("f\(i)", count: 10), cluster: cluster, among: others) }
            try await cluster.waitForHighWatermark(Offset(100), among: others)
            #expect(cluster.status(old).highWatermark == Offset(50), "the isolated replica commits nothing new")
            try await eventually("the isolated leader steps down (check quorum)") { cluster.status(old).role != .leader }
            // Deposed, it holds its producers at most `deposedProposalTicks` more (not the whole
            // 5 s proposal timeout): they fail as not the leader, their outcome unknown to it.
            try await eventually("the old leader's proposals end before the heal") { events.finished(0 ..< 3) }
            for i in 0 ..< 3 {
                let seen = events.of(i)
                let offset = try #require(seen.first?.offset, "proposal \(i) on the isolated leader: \(seen)")
                #expect(seen == [.accepted(offset), .durable(offset), .failed(.notLeader(leaderHint: .none))], "proposal \(i) on the isolated leader")
            }

            cluster.heal()
            try await cluster.waitConnected()
            try await eventually("the old leader follows the new one") {
                cluster.status(old).leader == new && cluster.status(old).role == .follower
            }
            try await cluster.waitForHighWatermark(Offset(100))
            try Self.expectIdenticalFiles(cluster, highWatermark: Offset(100))
            #expect(!(try storedRecords(cluster.path(old))).contains { $0.value.hasPrefix("iso") })
        }
    }

    /// A leader that loses both followers takes proposals (its lease has not run out), writes
    /// them, and fails them with `.noQuorum` once they waited `proposalTimeoutTicks`.
    @Test func proposalsALeaderCannotCommitFailWithNoQuorum() async throws {
        try await ReplicaTestCluster.with(nodes: 3, proposalTimeoutTicks: 20) { cluster in
            let leader = try await cluster.waitForLeader()
            _ = try await proposeOnLeader(produceBatch("ok", count: 3), cluster: cluster)
            cluster.isolate(leader)
            let events = ProposalEvents()
            for i in 0 ..< 2 { cluster.driver(leader).propose(records: produceBatch("lonely\(i)", count: 2), events.recorder(i)) }
            try await eventually("both proposals end") { events.finished(0 ..< 2) }
            for i in 0 ..< 2 {
                let seen = events.of(i)
                let offset = try #require(seen.first?.offset, "proposal \(i): \(seen)")
                #expect(seen == [.accepted(offset), .durable(offset), .failed(.noQuorum(waitedTicks: 20))], "proposal \(i)")
            }
            #expect(cluster.status(leader).highWatermark == Offset(3))
        }
    }
}
