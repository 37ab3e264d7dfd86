import Raft
import Testing

/// etcd-io/raft's election cases with check quorum and pre-vote (raft_test.go), ported on an
/// `etcdNetwork`. etcd's `MsgHup` is `campaign`; where etcd pins a randomized election timeout
/// (`setRandomizedElectionTimeout`), the port ticks the node and requires that it did not
/// campaign, which holds for the cluster's fixed seeds.
@Suite("etcd-io/raft elections", .timeLimit(.minutes(1)))
struct EtcdElectionTests {
    /// Ticks `id` for a full election timeout without letting it hear anything, so that its
    /// leader lease expires; it must not have campaigned meanwhile.
    private func expireLease(_ cluster: TestCluster, _ id: NodeID, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let term = cluster.node(id).term
        cluster.tick(id, 10)
        try #require(cluster.node(id).term == term && cluster.node(id).role == .follower,
                     "node \(id) campaigned while its lease expired; pick another seed", sourceLocation: sourceLocation)
    }

    /// Ticks `id` until it leaves the follower role (bounded by twice the election timeout).
    private func tickUntilCampaign(_ cluster: TestCluster, _ id: NodeID) {
        for _ in 0 ..< 20 where cluster.node(id).role == .follower { cluster.tick(id) }
    }

    // raft_test.go TestLeaderStepdownWhenQuorumActive
    @Test func leaderStepdownWhenQuorumActive() {
        var h = Harness { $0.checkQuorum = true; $0.electionTimeoutTicks = 5 }
        h.becomeLeader()
        for _ in 0 ..< 6 {
            h.step(Message(kind: .heartbeatResponse, from: 2, to: 1, term: h.node.term))
            h.tick()
        }
        #expect(h.node.role == .leader)
    }

    // raft_test.go TestLeaderStepdownWhenQuorumLost
    @Test func leaderStepdownWhenQuorumLost() {
        var h = Harness { $0.checkQuorum = true; $0.electionTimeoutTicks = 5 }
        h.becomeLeader()
        h.tick(6)
        #expect(h.node.role == .follower)
    }

    // raft_test.go TestLeaderSupersedingWithCheckQuorum: a follower in its leader lease refuses
    // votes; once the lease expired it grants them.
    @Test func leaderSupersedingWithCheckQuorum() throws {
        let cluster = etcdNetwork { $0.checkQuorum = true }
        cluster.campaign(1)
        #expect(cluster.node(1).role == .leader)
        #expect(cluster.node(3).role == .follower)
        cluster.campaign(3)
        // Node 2 ignored node 3's vote: it heard from leader 1 within the election timeout.
        #expect(cluster.node(3).role == .candidate)
        try expireLease(cluster, 2)
        cluster.campaign(3)
        #expect(cluster.node(3).role == .leader)
        #expect(cluster.checker.violations.isEmpty)
    }

    // raft_test.go TestLeaderElectionWithCheckQuorum
    @Test func leaderElectionWithCheckQuorum() throws {
        let cluster = etcdNetwork { $0.checkQuorum = true }
        cluster.campaign(1)
        #expect(cluster.node(1).role == .leader)
        #expect(cluster.node(3).role == .follower)
        cluster.tick(1, 10)  // the leader's check-quorum period passes (its followers answered)
        cluster.stabilize()
        #expect(cluster.node(1).role == .leader)
        try expireLease(cluster, 2)
        cluster.campaign(3)
        #expect(cluster.node(1).role == .follower)
        #expect(cluster.node(3).role == .leader)
        #expect(cluster.checker.violations.isEmpty)
    }

    // raft_test.go TestFreeStuckCandidateWithCheckQuorum: a candidate stuck at a higher term
    // (its votes ignored under the lease) answers the leader's heartbeat with its term, which
    // makes the leader step down, and then wins.
    @Test func freeStuckCandidateWithCheckQuorum() {
        let cluster = etcdNetwork { $0.checkQuorum = true }
        cluster.campaign(1)
        cluster.isolate(1)
        cluster.campaign(3)
        #expect(cluster.node(2).role == .follower)
        #expect(cluster.node(3).role == .candidate)
        #expect(cluster.node(3).term == cluster.node(2).term.next)
        cluster.campaign(3)  // again, for safety
        #expect(cluster.node(2).role == .follower)
        #expect(cluster.node(3).role == .candidate)
        #expect(cluster.node(3).term == cluster.node(2).term.next.next)
        cluster.heal()
        cluster.deliver(Message(kind: .heartbeat, from: 1, to: 3, term: cluster.node(1).term))
        cluster.stabilize()
        #expect(cluster.node(1).role == .follower)
        #expect(cluster.node(1).term == cluster.node(3).term)
        cluster.campaign(3)
        #expect(cluster.node(3).role == .leader)
        #expect(cluster.checker.violations.isEmpty)
    }

    // raft_test.go TestDisruptiveFollower: without pre-vote, a follower whose election timeout
    // elapsed before the leader's heartbeat arrived becomes candidate; its answer to the late
    // heartbeat carries its higher term and deposes the leader.
    @Test func disruptiveFollower() {
        let cluster = etcdNetwork { $0.checkQuorum = true }
        cluster.campaign(1)
        #expect(cluster.node(1).role == .leader)
        tickUntilCampaign(cluster, 3)
        #expect(cluster.node(1).role == .leader)
        #expect(cluster.node(3).role == .candidate)
        #expect(cluster.node(1).term == 1 && cluster.node(2).term == 1 && cluster.node(3).term == 2)
        cluster.deliver(Message(kind: .heartbeat, from: 1, to: 3, term: cluster.node(1).term))
        cluster.stabilize()
        #expect(cluster.node(1).role == .follower)
        #expect(cluster.node(2).role == .follower)
        #expect(cluster.node(3).role == .candidate)
        #expect(cluster.node(1).term == 2 && cluster.node(2).term == 1 && cluster.node(3).term == 2)
    }

    // raft_test.go TestDisruptiveFollowerPreVote: with pre-vote the same follower, now behind the
    // leader's log, stays a pre-candidate at the old term, and the late heartbeat leaves the
    // leader in place. (etcd enables pre-vote after the first election; here it is on from the
    // start, which changes nothing the test checks.)
    @Test func disruptiveFollowerPreVote() throws {
        let cluster = etcdNetwork { $0.checkQuorum = true; $0.preVote = true }
        cluster.campaign(1)
        #expect(cluster.node(1).role == .leader)
        cluster.isolate(3)
        for value: UInt8 in 1 ... 3 { try cluster.propose(1, [value]) }
        cluster.heal()
        cluster.campaign(3)
        #expect(cluster.node(1).role == .leader)
        #expect(cluster.node(2).role == .follower)
        #expect(cluster.node(3).role == .preCandidate)
        #expect(cluster.ids.allSatisfy { cluster.node($0).term == 1 })
        cluster.deliver(Message(kind: .heartbeat, from: 1, to: 3, term: cluster.node(1).term))
        cluster.stabilize()
        #expect(cluster.node(1).role == .leader)
    }

    // raft_test.go TestNodeWithSmallerTermCanCompleteElection: a node left behind at a lower term
    // (stuck as pre-candidate) rejoins as the leader is lost; an election still completes.
    // Spool's leader ignores pre-votes under its lease even without check quorum
    // (docs/replication.md §8), so node 2 takes over from 1 by a leadership transfer where etcd
    // lets it win a plain election.
    @Test func nodeWithSmallerTermCanCompleteElection() {
        let cluster = etcdNetwork { $0.preVote = true }
        cluster.cutOneWay(from: 1, to: 3); cluster.cutOneWay(from: 3, to: 1)
        cluster.cutOneWay(from: 2, to: 3); cluster.cutOneWay(from: 3, to: 2)
        cluster.campaign(1)
        #expect(cluster.node(1).role == .leader)
        #expect(cluster.node(2).role == .follower)
        cluster.campaign(3)
        #expect(cluster.node(3).role == .preCandidate)
        cluster.transferLeadership(from: 1, to: 2)
        #expect(cluster.node(1).term == 2 && cluster.node(2).term == 2 && cluster.node(3).term == 0)
        #expect(cluster.node(1).role == .follower)
        #expect(cluster.node(2).role == .leader)
        #expect(cluster.node(3).role == .preCandidate)
        // Bring node 3 back and cut node 2 off, as if it crashed.
        cluster.heal()
        cluster.isolate(2)
        cluster.campaign(3)
        cluster.campaign(1)
        #expect(cluster.node(1).role == .leader || cluster.node(3).role == .leader)
        #expect(cluster.checker.violations.isEmpty)
    }

    // raft_test.go TestPreVoteWithSplitVote: after a split vote the next round elects a leader.
    @Test func preVoteWithSplitVote() {
        let cluster = etcdNetwork { $0.preVote = true }
        cluster.campaign(1)
        cluster.isolate(1)
        cluster.together {
            cluster.campaign(2)
            cluster.campaign(3)
        }
        #expect(cluster.node(2).term == 2 && cluster.node(3).term == 2)
        #expect(cluster.node(2).role == .candidate && cluster.node(3).role == .candidate)
        cluster.campaign(2)
        #expect(cluster.node(2).term == 3 && cluster.node(3).term == 3)
        #expect(cluster.node(2).role == .leader)
        #expect(cluster.node(3).role == .follower)
        #expect(cluster.checker.violations.isEmpty)
    }

    // raft_test.go TestPreVoteWithCheckQuorum: after the leader is lost, a pre-candidate (which
    // has forgotten its leader) grants the other follower's pre-vote, and an election completes.
    @Test func preVoteWithCheckQuorum() {
        let cluster = etcdNetwork { $0.preVote = true; $0.checkQuorum = true }
        cluster.campaign(1)
        cluster.isolate(1)
        #expect(cluster.node(1).role == .leader)
        #expect(cluster.node(2).role == .follower && cluster.node(3).role == .follower)
        cluster.campaign(3)  // node 2 ignores it: leader 1 is within its lease
        cluster.campaign(2)
        #expect(cluster.node(2).role == .leader || cluster.node(3).role == .follower)
    }

    /// etcd's newPreVoteMigrationCluster: a rolling restart that enables pre-vote. Nodes 1 and 2
    /// run pre-vote, node 3 does not; node 3, partitioned, campaigns twice to a higher term with
    /// a shorter log; then it restarts with pre-vote on (etcd flips the flag in place, which
    /// keeps it a candidate; a restart makes it a follower at the same term and vote) and the
    /// network heals.
    private func preVoteMigrationCluster() throws -> TestCluster {
        let cluster = etcdNetwork { $0.preVote = $0.id != 3 }
        cluster.campaign(1)
        cluster.isolate(3)
        try cluster.propose(1, [1])
        cluster.campaign(3)
        cluster.campaign(3)
        #expect(cluster.node(1).role == .leader)
        #expect(cluster.node(2).role == .follower)
        #expect(cluster.node(3).role == .candidate)
        #expect(cluster.node(1).term == 1 && cluster.node(2).term == 1 && cluster.node(3).term == 3)
        cluster.configure = { config in
            config.electionTimeoutTicks = 10
            config.preVote = true
            config.checkQuorum = false
        }
        cluster.crash(3)
        cluster.restart(3)
        cluster.heal()
        return cluster
    }

    // raft_test.go TestPreVoteMigrationCanCompleteElection
    @Test func preVoteMigrationCanCompleteElection() throws {
        let cluster = try preVoteMigrationCluster()
        cluster.isolate(1)  // the leader is lost
        cluster.campaign(3)
        cluster.campaign(2)
        #expect(cluster.node(2).role == .follower)
        #expect(cluster.node(3).role == .preCandidate)
        cluster.campaign(3)
        cluster.campaign(2)
        #expect(cluster.node(2).role == .leader || cluster.node(3).role == .follower)
        #expect(cluster.checker.violations.isEmpty)
    }

    // raft_test.go TestPreVoteMigrationWithFreeStuckPreCandidate: node 3's pre-votes fail; its
    // answer to the leader's heartbeat carries its higher term, so the leader steps down and the
    // stuck node is freed.
    @Test func preVoteMigrationWithFreeStuckPreCandidate() throws {
        let cluster = try preVoteMigrationCluster()
        for _ in 0 ..< 2 {
            cluster.campaign(3)
            #expect(cluster.node(1).role == .leader)
            #expect(cluster.node(2).role == .follower)
            #expect(cluster.node(3).role == .preCandidate)
        }
        cluster.deliver(Message(kind: .heartbeat, from: 1, to: 3, term: cluster.node(1).term))
        cluster.stabilize()
        #expect(cluster.node(1).role == .follower)
        #expect(cluster.node(1).term == cluster.node(3).term)
        #expect(cluster.checker.violations.isEmpty)
    }

    // testdata/checkquorum.txt: a campaign fails while there is an active leader (its voters are
    // in the lease); a leader that hears from nobody for two election timeouts steps down; its
    // late heartbeats make the failed candidate answer with its term, and the next campaign wins
    // with the old leader's vote (node 3, still in its lease, ignores it).
    @Test func checkQuorum() {
        let cluster = etcdNetwork { $0.checkQuorum = true }
        cluster.campaign(1)
        cluster.campaign(2)
        #expect(cluster.node(1).role == .leader && cluster.node(1).term == 1)
        #expect(cluster.node(2).role == .candidate && cluster.node(2).term == 2)
        cluster.tick(1, 10)
        #expect(cluster.node(1).role == .leader)  // its followers were active in the first period
        cluster.tick(1, 10)
        #expect(cluster.node(1).role == .follower && cluster.node(1).term == 1)
        cluster.stabilize()  // the heartbeats buffered meanwhile: "the network was slow"
        #expect(cluster.node(1).role == .follower && cluster.node(1).term == 2)
        cluster.campaign(2)
        #expect(cluster.node(2).role == .leader && cluster.node(2).term == 3)
        #expect(cluster.ids.allSatisfy { cluster.node($0).leader == 2 && cluster.node($0).term == 3 })
        #expect(cluster.checker.violations.isEmpty)
    }

    // testdata/prevote_checkquorum.txt: a follower in its leader lease refuses pre-votes, one
    // whose lease expired grants them; pre-candidates (which forgot their leader) grant each other,
    // so a quorum that explicitly campaigns can replace a leader it still hears from.
    @Test func prevoteCheckQuorum() throws {
        let cluster = etcdNetwork { $0.preVote = true; $0.checkQuorum = true }
        cluster.campaign(1)
        cluster.campaign(2)
        #expect(cluster.node(1).role == .leader && cluster.node(1).term == 1)
        #expect(cluster.node(2).term == 1)
        cluster.tick(1)  // a heartbeat makes node 2 a follower of 1 again
        cluster.stabilize()
        #expect(cluster.node(2).role == .follower && cluster.node(2).leader == 1)
        try expireLease(cluster, 2)
        cluster.campaign(3)
        #expect(cluster.node(3).role == .leader && cluster.node(3).term == 2)
        #expect(cluster.node(1).role == .follower && cluster.node(1).leader == 3)
        // Node 1 alone fails (2 and 3 are in the lease of leader 3); then node 2 wins with the vote
        // of node 1, a pre-candidate.
        cluster.campaign(1)
        #expect(cluster.node(1).role == .preCandidate && cluster.node(3).role == .leader)
        cluster.campaign(2)
        #expect(cluster.node(2).role == .leader && cluster.node(2).term == 3)
        #expect(cluster.node(1).role == .follower && cluster.node(3).role == .follower)
        #expect(cluster.checker.violations.isEmpty)
    }
}
