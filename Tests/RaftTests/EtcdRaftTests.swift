import Raft
import Testing

/// etcd-io/raft's general cases (raft_test.go): message handling per role, elections between
/// competing candidates, stale leaders. Ported to Spool's public API; etcd's `MsgHup` is
/// `campaign`, its `becomeX` calls are reached the way a node really gets there.
@Suite("etcd-io/raft core", .timeLimit(.minutes(1)))
struct EtcdRaftTests {
    /// A node of {1, 2, 3} at term 1 brought into `role` (etcd's testVoteFromAnyState set-up).
    private func node(in role: Role, preVote: Bool) -> Harness {
        var h = Harness(storage: storage(withTerms: [], hardState: HardState(term: 1))) { $0.preVote = preVote }
        switch role {
        case .follower: h.step(Message(kind: .heartbeat, from: 3, to: 1, term: 1))  // follower of 3
        case .preCandidate, .candidate: h.node.campaign()
        case .leader: h.becomeLeader()
        }
        h.drain()
        #expect(h.node.role == role)
        return h
    }

    // raft_test.go TestVoteFromAnyState / TestPreVoteFromAnyState: a (pre)vote for a later term
    // from an up-to-date candidate is granted in every role; a real vote makes the node a follower
    // of that term, a pre-vote changes nothing.
    @Test(arguments: [MessageKind.vote, .preVote], [Role.follower, .preCandidate, .candidate, .leader])
    func voteFromAnyState(kind: MessageKind, role: Role) {
        var h = node(in: role, preVote: role == .preCandidate)
        let originalTerm = h.node.term
        let newTerm = originalTerm.next
        h.step(Message(kind: kind, from: 2, to: 1, term: newTerm, logTerm: newTerm, index: 42))
        let responses = h.drain().filter { $0.kind == (kind == .vote ? .voteResponse : .preVoteResponse) }
        #expect(responses.count == 1 && responses.first?.reject == false, "\(responses)")
        if kind == .vote {
            #expect(h.node.role == .follower)
            #expect(h.node.term == newTerm)
            #expect(h.node.vote == 2)
        } else {
            #expect(h.node.role == role)
            #expect(h.node.term == originalTerm)
            #expect(h.node.vote == .none || h.node.vote == 1)
        }
    }

    struct HandleMsgAppCase: Sendable, CustomTestStringConvertible {
        var logTerm: UInt64
        var index: UInt64
        var commit: UInt64
        var entries: [Entry] = []
        var lastIndex: UInt64
        var committed: UInt64
        var reject: Bool

        var testDescription: String { "prev \(index)/\(logTerm) commit \(commit) n=\(entries.count)" }
    }

    // raft_test.go TestHandleMsgApp, on a follower holding 1/1, 2/2 (the message term is 2 in every
    // row: etcd calls handleAppendEntries directly, past the term check).
    @Test(arguments: [
        // Reply false if the log holds no entry at prevLogIndex with prevLogTerm.
        HandleMsgAppCase(logTerm: 3, index: 2, commit: 3, lastIndex: 2, committed: 0, reject: true),
        HandleMsgAppCase(logTerm: 3, index: 3, commit: 3, lastIndex: 2, committed: 0, reject: true),
        // Delete a conflicting suffix, append what is new.
        HandleMsgAppCase(logTerm: 1, index: 1, commit: 1, lastIndex: 2, committed: 1, reject: false),
        HandleMsgAppCase(logTerm: 0, index: 0, commit: 1, entries: [entry(1, 2)], lastIndex: 1, committed: 1, reject: false),
        HandleMsgAppCase(logTerm: 2, index: 2, commit: 3, entries: [entry(3, 2), entry(4, 2)], lastIndex: 4, committed: 3, reject: false),
        HandleMsgAppCase(logTerm: 2, index: 2, commit: 4, entries: [entry(3, 2)], lastIndex: 3, committed: 3, reject: false),
        HandleMsgAppCase(logTerm: 1, index: 1, commit: 4, entries: [entry(2, 2)], lastIndex: 2, committed: 2, reject: false),
        // Commit up to min(leader commit, last new entry).
        HandleMsgAppCase(logTerm: 1, index: 1, commit: 3, lastIndex: 2, committed: 1, reject: false),
        HandleMsgAppCase(logTerm: 1, index: 1, commit: 3, entries: [entry(2, 2)], lastIndex: 2, committed: 2, reject: false),
        HandleMsgAppCase(logTerm: 2, index: 2, commit: 3, lastIndex: 2, committed: 2, reject: false),
        HandleMsgAppCase(logTerm: 2, index: 2, commit: 4, lastIndex: 2, committed: 2, reject: false),
    ])
    func handleMsgApp(_ test: HandleMsgAppCase) {
        var h = Harness(storage: storage(withTerms: [1, 2]))
        h.step(Message(kind: .append, from: 2, to: 1, term: 2, logTerm: Term(test.logTerm), index: LogIndex(test.index),
                       entries: test.entries, commit: LogIndex(test.commit)))
        #expect(h.node.lastIndex == LogIndex(test.lastIndex))
        #expect(h.node.commitIndex == LogIndex(test.committed))
        let responses = h.drain().filter { $0.kind == .appendResponse }
        #expect(responses.count == 1 && responses.first?.reject == test.reject, "\(responses)")
    }

    // raft_test.go TestHandleHeartbeat: a follower commits to the heartbeat's commit, never back.
    @Test(arguments: [(UInt64(3), UInt64(3)), (1, 2)])
    func handleHeartbeat(commit: UInt64, committed: UInt64) {
        var h = Harness(voters: [1, 2], storage: storage(withTerms: [1, 2, 3], voters: [1, 2],
                                                         hardState: HardState(term: 3, commit: 2)))
        h.step(Message(kind: .heartbeat, from: 2, to: 1, term: 3, commit: LogIndex(commit)))
        #expect(h.node.commitIndex == LogIndex(committed))
        #expect(h.drain().map(\.kind) == [.heartbeatResponse])
    }

    // raft_test.go TestHandleHeartbeatResp: a heartbeat response from a follower that is behind
    // re-sends an append, each time; once the follower acknowledged everything, none.
    @Test func handleHeartbeatResp() {
        var h = Harness(voters: [1, 2], storage: storage(withTerms: [1, 2, 3], voters: [1, 2]))
        h.becomeLeader()
        h.drain()
        var messages: [Message] = []
        for _ in 0 ..< 2 {
            h.step(Message(kind: .heartbeatResponse, from: 2, to: 1, term: h.node.term))
            messages = h.drain()
            #expect(messages.map(\.kind) == [.append])
        }
        let last = messages.first.map { $0.index + $0.entries.count } ?? .zero
        h.step(Message(kind: .appendResponse, from: 2, to: 1, term: h.node.term, index: last))
        h.drain()
        h.step(Message(kind: .heartbeatResponse, from: 2, to: 1, term: h.node.term))
        #expect(h.drain().isEmpty)
    }

    // raft_test.go TestMsgAppRespWaitReset: a follower still waiting on its probe gets nothing new
    // until it answers; its answer releases the wait and the pending entry goes out.
    @Test func msgAppRespWaitReset() throws {
        var h = Harness()
        h.becomeLeader()
        h.drain()
        h.step(Message(kind: .appendResponse, from: 2, to: 1, term: h.node.term, index: 1))
        #expect(h.node.commitIndex == 1)
        h.drain()
        try h.node.propose([Proposal(payload: [])])
        var messages = h.drain().filter { $0.kind == .append }
        #expect(messages.map(\.to) == [2])
        #expect(messages.first?.entries.map(\.index) == [2])
        h.step(Message(kind: .appendResponse, from: 3, to: 1, term: h.node.term, index: 1))
        messages = h.drain().filter { $0.kind == .append }
        #expect(messages.map(\.to) == [3])
        #expect(messages.first?.entries.map(\.index) == [2])
    }

    // raft_test.go TestAllServerStepdown: a vote or an append of a higher term turns any role into
    // a follower of that term (of no leader after a vote, of the sender after an append); a leader
    // keeps its log.
    @Test(arguments: [Role.follower, .preCandidate, .candidate, .leader])
    func allServerStepdown(role: Role) {
        var h = Harness { $0.preVote = role == .preCandidate }
        switch role {
        case .follower: break
        case .preCandidate, .candidate: h.node.campaign()
        case .leader: h.becomeLeader()
        }
        h.drain()
        let lastIndex = h.node.lastIndex
        for kind in [MessageKind.vote, .append] {
            h.step(Message(kind: kind, from: 2, to: 1, term: 3, logTerm: 3))
            #expect(h.node.role == .follower)
            #expect(h.node.term == 3)
            #expect(h.node.lastIndex == lastIndex)
            #expect(h.node.leader == (kind == .vote ? .none : 2))
        }
    }

    // raft_test.go TestDuelingCandidates: two candidates, one of them cut off from the other; the
    // one with the shorter log disrupts the leader's term once the cut heals but cannot win.
    @Test func duelingCandidates() {
        let cluster = etcdNetwork()
        cluster.cutOneWay(from: 1, to: 3); cluster.cutOneWay(from: 3, to: 1)
        cluster.campaign(1)
        cluster.campaign(3)
        #expect(cluster.node(1).role == .leader)
        #expect(cluster.node(3).role == .candidate)  // 2 refused: it voted for 1 in that term
        cluster.heal()
        cluster.campaign(3)
        for (id, lastIndex) in [(NodeID(1), LogIndex(1)), (2, 1), (3, 0)] {
            #expect(cluster.node(id).role == .follower, "\(id)")
            #expect(cluster.node(id).term == 2, "\(id)")
            #expect(cluster.node(id).lastIndex == lastIndex, "\(id)")
        }
        #expect(cluster.checker.violations.isEmpty)
    }

    // raft_test.go TestDuelingPreCandidates: with pre-vote the candidate cut off from the leader is
    // refused in the pre-vote and never bumps a term. etcd's leader and follower answer its second
    // pre-vote with a refusal, so it falls back to follower; Spool's ignore it under the leader
    // lease (docs/replication.md §8.2), so it waits as a pre-candidate. Either way nobody's term moves.
    @Test func duelingPreCandidates() {
        let cluster = etcdNetwork { $0.preVote = true }
        cluster.cutOneWay(from: 1, to: 3); cluster.cutOneWay(from: 3, to: 1)
        cluster.campaign(1)
        cluster.campaign(3)
        #expect(cluster.node(1).role == .leader)
        #expect(cluster.node(3).role == .follower)  // its pre-vote was refused by 2
        cluster.heal()
        cluster.campaign(3)
        #expect(cluster.node(1).role == .leader)
        #expect(cluster.node(2).role == .follower)
        #expect(cluster.node(3).role == .preCandidate)
        for (id, lastIndex) in [(NodeID(1), LogIndex(1)), (2, 1), (3, 0)] {
            #expect(cluster.node(id).term == 1, "\(id)")
            #expect(cluster.node(id).lastIndex == lastIndex, "\(id)")
        }
        #expect(cluster.checker.violations.isEmpty)
    }

    // raft_test.go TestCandidateConcede: a candidate of the leader's term that hears from the
    // leader concedes and takes its log.
    @Test func candidateConcede() throws {
        let cluster = etcdNetwork()
        cluster.isolate(1)
        cluster.campaign(1)
        cluster.campaign(3)
        cluster.heal()
        cluster.tick(3)  // heartbeat
        cluster.stabilize()
        try cluster.propose(3, Array("force follower".utf8))
        cluster.tick(3)
        cluster.stabilize()
        #expect(cluster.node(1).role == .follower)
        #expect(cluster.node(1).term == 1)
        let expected = cluster.node(3).logEntries()
        #expect(expected.map(\.term) == [1, 1])
        #expect(expected.last?.payload == Array("force follower".utf8))
        for id in cluster.ids { #expect(cluster.node(id).logEntries() == expected, "\(id)") }
    }

    // raft_test.go TestSingleNodePreCandidate
    @Test func singleNodePreCandidate() {
        var h = Harness(voters: [1]) { $0.preVote = true }
        h.node.campaign()
        #expect(h.node.role == .leader)
    }

    // raft_test.go TestOldMessages: an append from a deposed leader's term is ignored.
    @Test func oldMessages() throws {
        let cluster = etcdNetwork()
        cluster.campaign(1)
        cluster.campaign(2)
        cluster.campaign(1)  // leader of term 3
        cluster.deliver(Message(kind: .append, from: 2, to: 1, term: 2, logTerm: 2, index: 2, entries: [entry(3, 2)]))
        cluster.stabilize()
        try cluster.propose(1, Array("somedata".utf8))
        for id in cluster.ids {
            let log = cluster.node(id).logEntries()
            #expect(log.map(\.term) == [1, 2, 3, 3], "\(id)")
            #expect(log.last?.payload == Array("somedata".utf8), "\(id)")
        }
        #expect(cluster.checker.violations.isEmpty)
    }

    // raft_test.go TestCandidateResetTermMsgHeartbeat / TestCandidateResetTermMsgApp: a candidate
    // left behind in an older term reverts to follower of the leader's (higher) term when it hears
    // from the leader.
    @Test(arguments: [MessageKind.heartbeat, .append])
    func candidateResetTerm(kind: MessageKind) {
        let cluster = etcdNetwork()
        cluster.campaign(1)
        #expect(cluster.node(1).role == .leader)
        cluster.isolate(3)
        cluster.campaign(2)
        cluster.campaign(1)
        #expect(cluster.node(1).role == .leader && cluster.node(2).role == .follower)
        for _ in 0 ..< 20 where cluster.node(3).role == .follower { cluster.tick(3) }
        #expect(cluster.node(3).role == .candidate)
        cluster.heal()
        cluster.deliver(Message(kind: kind, from: 1, to: 3, term: cluster.node(1).term))
        cluster.stabilize()
        #expect(cluster.node(3).role == .follower)
        #expect(cluster.node(3).term == cluster.node(1).term)
        #expect(cluster.checker.violations.isEmpty)
    }

    // raft_test.go TestCannotCommitWithoutNewTermEntry: a new leader does not commit entries of an
    // earlier term by counting replicas (Raft §5.4.2), only with an entry of its own term.
    @Test func cannotCommitWithoutNewTermEntry() throws {
        let cluster = etcdNetwork(size: 5)
        cluster.campaign(1)
        for id: NodeID in [3, 4, 5] { cluster.cutOneWay(from: 1, to: id); cluster.cutOneWay(from: id, to: 1) }
        try cluster.propose(1, Array("some data".utf8))
        try cluster.propose(1, Array("some data".utf8))
        #expect(cluster.node(1).commitIndex == 1)
        cluster.heal()
        cluster.drop = { $0.kind == .append }  // the new leader's no-op reaches nobody
        cluster.campaign(2)
        #expect(cluster.node(2).role == .leader)
        #expect(cluster.node(2).commitIndex == 1)
        cluster.drop = nil
        cluster.tick(2)  // heartbeat: the responses restart replication
        cluster.stabilize()
        try cluster.propose(2, Array("some data".utf8))
        #expect(cluster.node(2).commitIndex == 5)
        #expect(cluster.checker.violations.isEmpty)
    }

    // raft_test.go TestCommitWithoutNewTermEntry: the new leader's no-op commits the earlier term's
    // entries without any new proposal.
    @Test func commitWithoutNewTermEntry() throws {
        let cluster = etcdNetwork(size: 5)
        cluster.campaign(1)
        for id: NodeID in [3, 4, 5] { cluster.cutOneWay(from: 1, to: id); cluster.cutOneWay(from: id, to: 1) }
        try cluster.propose(1, Array("some data".utf8))
        try cluster.propose(1, Array("some data".utf8))
        #expect(cluster.node(1).commitIndex == 1)
        cluster.heal()
        cluster.campaign(2)
        #expect(cluster.node(1).commitIndex == 4)
        #expect(cluster.checker.violations.isEmpty)
    }
}
