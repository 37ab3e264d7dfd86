import Raft
import RaftSimulator
import Testing

/// Whole-group scenarios on the synchronous test network, with the simulator's invariant checker
/// watching every step. Pre-vote and check-quorum are on (Spool's defaults).
@Suite("Scenarios")
struct ScenarioTests {
    /// Ticks until some node leads (bounded).
    private func electLeader(_ cluster: TestCluster, within ticks: Int = 100) -> NodeID? {
        for _ in 0 ..< ticks {
            if let leader = cluster.leader { return leader }
            cluster.tickAll()
        }
        return cluster.leader
    }

    @Test("a cluster elects one leader by timeout and everyone follows it")
    func electsLeader() throws {
        let cluster = TestCluster(size: 5)
        let leader = try #require(electLeader(cluster))
        for id in cluster.ids {
            #expect(cluster.node(id).leader == leader)
            #expect(cluster.node(id).term == cluster.node(leader).term)
        }
        #expect(cluster.checker.violations.isEmpty)
    }

    @Test("a partitioned leader is replaced, its uncommitted proposals are discarded, and healing converges")
    func partitionLeaderThenHeal() throws {
        let cluster = TestCluster(size: 3)
        let old = try #require(electLeader(cluster))
        try cluster.propose(old, [1])
        cluster.isolate(old)
        // Proposed during the partition: can never commit.
        try cluster.propose(old, [2])
        cluster.tickAll(40)
        let new = try #require(cluster.leader(excluding: old))
        #expect(cluster.node(new).term > cluster.node(old).term || cluster.node(old).role != .leader)
        // Check quorum: the isolated leader stepped down on its own.
        #expect(cluster.node(old).role != .leader)
        try cluster.propose(new, [3])
        cluster.heal()
        cluster.tickAll(30)
        let final = try #require(cluster.leader)
        for id in cluster.ids {
            #expect(cluster.appliedPayloads(id) == [[1], [3]], "\(id)")
            #expect(cluster.node(id).commitIndex == cluster.node(final).commitIndex)
        }
        #expect(cluster.checker.violations.isEmpty)
    }

    @Test("a majority partition keeps committing while the minority cannot")
    func proposeDuringPartition() throws {
        let cluster = TestCluster(size: 5)
        let leader = try #require(electLeader(cluster))
        let minority = cluster.ids.filter { $0 != leader }.prefix(2)
        for id in minority { cluster.isolate(id) }
        for value: UInt8 in 1 ... 5 { try cluster.propose(leader, [value]) }
        #expect(cluster.appliedPayloads(leader) == (1 ... 5).map { [UInt8($0)] })
        for id in minority { #expect(cluster.appliedPayloads(id).isEmpty) }
        cluster.heal()
        cluster.tickAll(5)
        for id in cluster.ids { #expect(cluster.appliedPayloads(id).count == 5) }
        #expect(cluster.checker.violations.isEmpty)
    }

    @Test("a follower crashing mid-append loses the unpersisted entries and catches up after restart")
    func crashFollowerMidAppend() throws {
        let cluster = TestCluster(size: 3)
        let leader = try #require(electLeader(cluster))
        let follower = cluster.ids.first { $0 != leader }!
        try cluster.propose(leader, [1])
        // Hold messages: the follower receives the next append but crashes before persisting it.
        cluster.autoDeliver = false
        try cluster.propose(leader, [2])
        let held = cluster.takeInFlight()
        #expect(held.contains { $0.kind == .append && $0.to == follower && !$0.entries.isEmpty })
        for message in held where message.to == follower { cluster.deliver(message) }
        #expect(cluster.node(follower).lastIndex > cluster.storages[follower]!.lastIndex())
        let durableBefore = cluster.storages[follower]!.lastIndex()
        cluster.crash(follower)
        cluster.restart(follower)
        #expect(cluster.node(follower).lastIndex == durableBefore)
        cluster.autoDeliver = true
        for message in held where message.to != follower { cluster.deliver(message) }
        cluster.stabilize()
        cluster.tickAll(10)
        for id in cluster.ids { #expect(cluster.appliedPayloads(id).suffix(2) == [[1], [2]], "\(id)") }
        #expect(cluster.checker.violations.isEmpty)
    }

    @Test("thesis §9.6 pre-vote: a node rejoining after a partition does not depose a healthy leader")
    func preVoteProtectsLeader() throws {
        let cluster = TestCluster(size: 3)
        let leader = try #require(electLeader(cluster))
        let loner = cluster.ids.first { $0 != leader }!
        let term = cluster.node(leader).term
        cluster.isolate(loner)
        cluster.tickAll(100)  // many election timeouts: the loner's pre-votes all fail
        #expect(cluster.node(loner).term == term)
        cluster.heal()
        cluster.tickAll(20)
        #expect(cluster.leader == leader)
        #expect(cluster.node(leader).term == term)
        #expect(cluster.checker.violations.isEmpty)
    }

    @Test("without pre-vote the same rejoin bumps the term and disrupts the leader")
    func withoutPreVoteRejoinDisrupts() throws {
        let cluster = TestCluster(size: 3) { $0.preVote = false; $0.checkQuorum = false }
        let leader = try #require(electLeader(cluster))
        let loner = cluster.ids.first { $0 != leader }!
        let term = cluster.node(leader).term
        cluster.isolate(loner)
        cluster.tickAll(100)
        #expect(cluster.node(loner).term > term)
        cluster.heal()
        cluster.tickAll(30)
        #expect(cluster.node(cluster.leader ?? leader).term > term)
    }

    @Test("thesis §3.10 leadership transfer moves the leader to a caught-up follower at once")
    func leadershipTransfer() throws {
        let cluster = TestCluster(size: 3)
        let leader = try #require(electLeader(cluster))
        try cluster.propose(leader, [1])
        let target = cluster.ids.first { $0 != leader }!
        cluster.transferLeadership(from: leader, to: target)
        #expect(cluster.leader == target)
        try cluster.propose(target, [2])
        for id in cluster.ids { #expect(cluster.appliedPayloads(id) == [[1], [2]]) }
        #expect(cluster.checker.violations.isEmpty)
    }

    @Test("thesis §3.10 a leader refuses proposals during a transfer and abandons it after an election timeout")
    func leadershipTransferToUnreachableNode() throws {
        let cluster = TestCluster(size: 3)
        let leader = try #require(electLeader(cluster))
        let target = cluster.ids.first { $0 != leader }!
        cluster.isolate(target)
        try cluster.propose(leader, [1])
        cluster.transferLeadership(from: leader, to: target)
        #expect(throws: ProposalError.leadershipTransferInProgress) { try cluster.propose(leader, [2]) }
        for _ in 0 ..< 10 { cluster.tick(leader) }
        cluster.stabilize()
        #expect(cluster.node(leader).leadTransferee == .none)
        try cluster.propose(leader, [3])
    }

    @Test("§7 a follower behind the leader's retained log is caught up by a snapshot")
    func snapshotCatchUp() throws {
        let cluster = TestCluster(size: 3)
        let leader = try #require(electLeader(cluster))
        let lagging = cluster.ids.first { $0 != leader }!
        cluster.isolate(lagging)
        for value: UInt8 in 1 ... 20 { try cluster.propose(leader, [value]) }
        // Retention on the leader: drop everything applied.
        let applied = cluster.node(leader).appliedIndex
        try cluster.storages[leader]!.compact(through: applied, snapshotData: [42])
        cluster.heal()
        cluster.tickAll(5)
        let storage = cluster.storages[lagging]!
        #expect(try storage.snapshot().index == applied)
        #expect(try storage.snapshot().data == [42])
        #expect(cluster.node(lagging).commitIndex == cluster.node(leader).commitIndex)
        try cluster.propose(leader, [21])
        #expect(cluster.appliedPayloads(lagging) == [[21]])  // the rest arrived inside the snapshot
        #expect(cluster.checker.violations.isEmpty)
    }

    @Test("flow control: at most maxInflightAppendsPerFollower appends of at most maxEntriesPerAppend entries")
    func flowControl() throws {
        var h = Harness { $0.maxInflightAppendsPerFollower = 3; $0.maxEntriesPerAppend = 2 }
        h.becomeReplicatingLeader()
        // Twenty single-entry proposals fill the window with three appends.
        for value: UInt8 in 1 ... 20 { try h.node.propose([Proposal(payload: [value])]) }
        let appends = h.drain().filter { $0.kind == .append && $0.to == 2 }
        #expect(appends.count == 3)
        // An acknowledgement frees the window: the backlog goes out in appends of at most two
        // entries (exactly two while more than two wait), never more than three in flight.
        let next = h.acknowledge(Array(appends.prefix(1))).filter { $0.kind == .append && $0.to == 2 }
        #expect(!next.isEmpty && next.count <= 3)
        #expect(next.allSatisfy { $0.entries.count == 2 }, "\(next.map(\.entries.count))")
        // One proposal of many entries is split the same way.
        var single = Harness { $0.maxInflightAppendsPerFollower = 3; $0.maxEntriesPerAppend = 2 }
        single.becomeReplicatingLeader()
        try single.node.propose((1 ... 20).map { (value: UInt8) in Proposal(payload: [value]) })
        let split = single.drain().filter { $0.kind == .append && $0.to == 2 }
        #expect(!split.isEmpty && split.allSatisfy { $0.entries.count == 2 }, "\(split.map(\.entries.count))")
    }

    @Test("maxBytesPerAppend bounds a batch, but an oversized entry still moves alone")
    func appendByteLimit() throws {
        var h = Harness { $0.maxBytesPerAppend = 100 }
        h.becomeReplicatingLeader()
        try h.node.propose((0 ..< 4).map { _ in Proposal(payload: [UInt8](repeating: 1, count: 60)) })
        let first = h.drain().filter { $0.kind == .append && $0.to == 2 }
        #expect(first.first?.entries.count == 1)
        var big = Harness { $0.maxBytesPerAppend = 10 }
        big.becomeReplicatingLeader()
        try big.node.propose([Proposal(payload: [UInt8](repeating: 1, count: 500))])
        #expect(big.drain().first { $0.kind == .append && $0.to == 2 }?.entries.count == 1)
    }

    @Test("a single-node group elects itself and commits only after persisting")
    func singleNode() throws {
        var h = Harness(voters: [1])
        h.node.campaign()
        #expect(h.node.role == .leader)
        let index = try h.node.propose([Proposal(payload: [9])]).indexes.upperBound
        #expect(h.node.commitIndex < index)  // nothing is durable yet
        h.drain()
        #expect(h.node.commitIndex == index)
        h.drain()
        #expect(payloads(h.applied) == [[9]])
    }

    @Test("a storage that forgets its vote lets two leaders win one term, and the checker says so",
          arguments: [true, false])
    func checkerCatchesForgottenVote(forgetVote: Bool) throws {
        let cluster = TestCluster(size: 3) { $0.preVote = false; $0.checkQuorum = false }
        cluster.isolate(3)
        cluster.autoDeliver = false
        // n1 campaigns, n2 votes for it, n1 wins term 1; its first append is lost.
        cluster.campaign(1)
        for message in cluster.takeInFlight() { cluster.deliver(message) }
        cluster.stabilize()
        for message in cluster.takeInFlight() { cluster.deliver(message) }
        #expect(cluster.leader == 1)
        cluster.stabilize()
        _ = cluster.takeInFlight()
        // n2 restarts; a lying disk lost its vote.
        cluster.crash(2)
        if forgetVote {
            let hardState = cluster.storages[2]!.hardState()
            try cluster.storages[2]!.setHardState(HardState(term: hardState.term, vote: .none, commit: hardState.commit))
        }
        cluster.restart(2)
        // n3 campaigns for the same term while n1 is unreachable.
        cluster.heal()
        cluster.isolate(1)
        cluster.autoDeliver = true
        cluster.campaign(3)
        #expect(cluster.node(3).term == cluster.node(1).term)
        let doubleLeader = cluster.checker.violations.contains { $0.invariant == .electionSafety }
        #expect(doubleLeader == forgetVote)
        #expect((cluster.node(3).role == .leader) == forgetVote)
    }
}

extension TestCluster {
    func leader(excluding id: NodeID) -> NodeID? {
        ids.first { $0 != id && node($0).role == .leader }
    }
}
