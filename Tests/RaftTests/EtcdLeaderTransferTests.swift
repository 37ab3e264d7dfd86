import Raft
import Testing

/// etcd-io/raft's leadership transfer cases (raft_test.go, `TestLeaderTransfer*`), ported one by
/// one on an `etcdNetwork`. etcd's `MsgTransferLeader` from node X to the leader is
/// `transferLeadership(to: X)` here; every test ends with etcd's `checkLeaderTransferState`.
@Suite("etcd-io/raft leadership transfer", .timeLimit(.minutes(1)))
struct EtcdLeaderTransferTests {
    /// etcd's checkLeaderTransferState: `id` is in `role`, follows `leader`, and no transfer is
    /// pending.
    private func checkLeaderTransferState(_ cluster: TestCluster, _ id: NodeID, _ role: Role, _ leader: NodeID,
                                          sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(cluster.node(id).role == role, sourceLocation: sourceLocation)
        #expect(cluster.node(id).leader == leader, sourceLocation: sourceLocation)
        #expect(cluster.node(id).leadTransferee == .none, sourceLocation: sourceLocation)
        #expect(cluster.checker.violations.isEmpty, sourceLocation: sourceLocation)
    }

    /// A leader 1 of three nodes with node 3 cut off and a transfer to 3 pending.
    private func pendingTransferToIsolatedNode() -> TestCluster {
        let cluster = etcdNetwork()
        cluster.campaign(1)
        cluster.isolate(3)
        cluster.transferLeadership(from: 1, to: 3)
        #expect(cluster.node(1).leadTransferee == 3)
        return cluster
    }

    // raft_test.go TestLeaderTransferToUpToDateNode
    @Test func leaderTransferToUpToDateNode() throws {
        let cluster = etcdNetwork()
        cluster.campaign(1)
        #expect(cluster.node(1).leader == 1)
        cluster.transferLeadership(from: 1, to: 2)
        checkLeaderTransferState(cluster, 1, .follower, 2)
        // After some log replication, transfer leadership back to 1 (etcd proposes on 1, which
        // forwards; Spool has no proposal forwarding, see docs/replication.md §8).
        try cluster.propose(2, [1])
        cluster.transferLeadership(from: 2, to: 1)
        checkLeaderTransferState(cluster, 1, .leader, 1)
    }

    // raft_test.go TestLeaderTransferToUpToDateNodeFromFollower: every request goes to a follower,
    // which forwards it to the leader.
    @Test func leaderTransferToUpToDateNodeFromFollower() throws {
        let cluster = etcdNetwork()
        cluster.campaign(1)
        cluster.transferLeadership(from: 2, to: 2)
        checkLeaderTransferState(cluster, 1, .follower, 2)
        try cluster.propose(2, [1])
        cluster.transferLeadership(from: 1, to: 1)
        checkLeaderTransferState(cluster, 1, .leader, 1)
    }

    // raft_test.go TestLeaderTransferWithCheckQuorum: the transferee's votes bypass the leader
    // lease of nodes that just heard from the leader.
    @Test func leaderTransferWithCheckQuorum() throws {
        let cluster = etcdNetwork { $0.checkQuorum = true }
        cluster.campaign(1)
        #expect(cluster.node(1).role == .leader)
        cluster.transferLeadership(from: 1, to: 2)
        checkLeaderTransferState(cluster, 1, .follower, 2)
        try cluster.propose(2, [1])
        cluster.transferLeadership(from: 2, to: 1)
        checkLeaderTransferState(cluster, 1, .leader, 1)
    }

    // raft_test.go TestLeaderTransferToSlowFollower: the leader first brings the transferee's log
    // up to date.
    @Test func leaderTransferToSlowFollower() throws {
        let cluster = etcdNetwork()
        cluster.campaign(1)
        cluster.isolate(3)
        try cluster.propose(1, [1])
        cluster.heal()
        #expect(cluster.progress(1, of: 3)?.match == 1)
        cluster.transferLeadership(from: 1, to: 3)
        checkLeaderTransferState(cluster, 1, .follower, 3)
    }

    // raft_test.go TestLeaderTransferAfterSnapshot: the transferee needs a snapshot; the transfer
    // completes only once the transferee acknowledges it.
    @Test func leaderTransferAfterSnapshot() throws {
        let cluster = etcdNetwork()
        cluster.campaign(1)
        cluster.isolate(3)
        try cluster.propose(1, [1])
        try cluster.storages[1]!.compact(through: cluster.node(1).appliedIndex, snapshotData: [])
        cluster.heal()
        #expect(cluster.progress(1, of: 3)?.match == 1)
        var held: [Message] = []
        cluster.drop = { message in
            guard message.kind == .appendResponse, message.from == 3, !message.reject else { return false }
            held.append(message)
            return true
        }
        cluster.transferLeadership(from: 1, to: 3)
        #expect(cluster.storages[3]!.firstIndex() == cluster.storages[1]!.firstIndex())  // snapshot installed
        #expect(cluster.node(1).role == .leader)
        #expect(cluster.node(1).leadTransferee == 3)
        #expect(!held.isEmpty)
        cluster.drop = nil
        for message in held { cluster.deliver(message) }
        cluster.stabilize()
        checkLeaderTransferState(cluster, 1, .follower, 3)
    }

    // raft_test.go TestLeaderTransferToSelf
    @Test func leaderTransferToSelf() {
        let cluster = etcdNetwork()
        cluster.campaign(1)
        cluster.transferLeadership(from: 1, to: 1)
        checkLeaderTransferState(cluster, 1, .leader, 1)
    }

    // raft_test.go TestLeaderTransferToNonExistingNode
    @Test func leaderTransferToNonExistingNode() {
        let cluster = etcdNetwork()
        cluster.campaign(1)
        cluster.transferLeadership(from: 1, to: 4)
        checkLeaderTransferState(cluster, 1, .leader, 1)
    }

    // raft_test.go TestLeaderTransferTimeout: a transfer that does not finish within an election
    // timeout is abandoned.
    @Test func leaderTransferTimeout() {
        let cluster = pendingTransferToIsolatedNode()
        cluster.tick(1, 1)  // heartbeatIntervalTicks
        #expect(cluster.node(1).leadTransferee == 3)
        cluster.tick(1, 10 - 1)  // electionTimeoutTicks - heartbeatIntervalTicks
        cluster.stabilize()
        checkLeaderTransferState(cluster, 1, .leader, 1)
    }

    // raft_test.go TestLeaderTransferIgnoreProposal
    @Test func leaderTransferIgnoreProposal() {
        let cluster = pendingTransferToIsolatedNode()
        #expect(throws: ProposalError.leadershipTransferInProgress) { try cluster.propose(1, [1]) }
        #expect(cluster.progress(1, of: 1)?.match == 1)
    }

    // raft_test.go TestLeaderTransferReceiveHigherTermVote: a vote of a higher term ends the
    // transfer with the leadership.
    @Test func leaderTransferReceiveHigherTermVote() {
        let cluster = pendingTransferToIsolatedNode()
        cluster.campaign(2)
        checkLeaderTransferState(cluster, 1, .follower, 2)
    }

    // raft_test.go TestLeaderTransferBack: asking a leader with a pending transfer to transfer to
    // itself cancels the transfer; it stays leader and accepts proposals at once (issue 16: it
    // used to refuse them for a whole election timeout).
    @Test func leaderTransferBack() throws {
        let cluster = pendingTransferToIsolatedNode()
        cluster.transferLeadership(from: 1, to: 1)
        checkLeaderTransferState(cluster, 1, .leader, 1)
        let index = try cluster.propose(1, [7])
        #expect(cluster.node(1).commitIndex == index)
        #expect(cluster.appliedPayloads(2) == [[7]])
    }

    // The same cancellation requested on a follower, which forwards it (etcd's MsgTransferLeader
    // from the leader's id sent to a follower).
    @Test func leaderTransferBackFromFollower() throws {
        let cluster = pendingTransferToIsolatedNode()
        cluster.transferLeadership(from: 2, to: 1)
        checkLeaderTransferState(cluster, 1, .leader, 1)
        try cluster.propose(1, [7])
    }

    // raft_test.go TestLeaderTransferSecondTransferToAnotherNode: a request for another node
    // replaces the pending transfer.
    @Test func leaderTransferSecondTransferToAnotherNode() {
        let cluster = pendingTransferToIsolatedNode()
        cluster.transferLeadership(from: 1, to: 2)
        checkLeaderTransferState(cluster, 1, .follower, 2)
    }

    // raft_test.go TestLeaderTransferSecondTransferToSameNode: repeating the request does not
    // extend the transfer's deadline.
    @Test func leaderTransferSecondTransferToSameNode() {
        let cluster = pendingTransferToIsolatedNode()
        cluster.tick(1, 1)
        cluster.transferLeadership(from: 1, to: 3)
        cluster.tick(1, 10 - 1)
        cluster.stabilize()
        checkLeaderTransferState(cluster, 1, .leader, 1)
    }
}
