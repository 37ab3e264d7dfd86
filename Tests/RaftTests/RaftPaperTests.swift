import Raft
import Testing

/// Tests named after the sections of the Raft paper they check (after etcd-io/raft's
/// raft_paper_test.go). Pre-vote and check-quorum are off unless a test says otherwise, so the
/// behaviour is the paper's.
@Suite("Raft paper")
struct RaftPaperTests {
    // MARK: §5.1 Raft basics

    @Test("§5.1 a node seeing a higher term adopts it and becomes follower", arguments: [Role.follower, .candidate, .leader])
    func updateTermFromMessage(role: Role) {
        var h = Harness()
        switch role {
        case .candidate: h.node.campaign()
        case .leader: h.becomeLeader()
        default: break
        }
        h.drain()
        h.step(Message(kind: .append, from: 2, to: 1, term: 9))
        #expect(h.node.term == 9)
        #expect(h.node.role == .follower)
        #expect(h.node.leader == 2)
    }

    @Test("§5.1 a request with a stale term is rejected")
    func rejectStaleTermMessage() {
        var h = Harness(storage: storage(withTerms: [1, 2], hardState: HardState(term: 2)))
        h.step(Message(kind: .append, from: 2, to: 1, term: 1, logTerm: 1, index: 1, entries: [entry(2, 1)]))
        #expect(h.node.lastIndex == 2)
        #expect(h.node.term(at: 2) == 2)
        #expect(h.drain().isEmpty)
    }

    // MARK: §5.2 Leader election

    @Test("§5.2 a node starts as follower")
    func startAsFollower() {
        let h = Harness()
        #expect(h.node.role == .follower)
        #expect(h.node.term == 0)
    }

    @Test("§5.2 a leader sends heartbeats to every follower each heartbeat interval")
    func leaderBroadcastsHeartbeats() {
        var h = Harness { $0.heartbeatIntervalTicks = 1 }
        h.becomeLeader()
        h.drain()
        h.tick()
        let heartbeats = h.drain().filter { $0.kind == .heartbeat }
        #expect(heartbeats.map(\.to) == [2, 3])
        #expect(heartbeats.allSatisfy { $0.term == h.node.term })
    }

    @Test("§5.2 a follower or candidate starts an election when its timeout elapses", arguments: [Role.follower, .candidate])
    func nonLeaderStartsElection(role: Role) {
        var h = Harness()
        if role == .candidate { h.node.campaign() }
        h.drain()
        let term = h.node.term
        h.tick(20)  // > 2 × electionTimeoutTicks: the randomized timeout has surely elapsed
        #expect(h.node.role == .candidate)
        #expect(h.node.term > term)
        #expect(h.node.vote == 1)
        let requests = h.drain().filter { $0.kind == .vote }
        #expect(Set(requests.map(\.to)) == [2, 3])
    }

    @Test("§5.2 a candidate wins with a majority, waits without one, loses on a majority of refusals",
          arguments: [
              (3, [NodeID: Bool](), Role.candidate), (3, [2: true], .leader), (3, [2: true, 3: true], .leader),
              (3, [2: false, 3: false], .follower), (5, [2: true], .candidate), (5, [2: true, 3: true], .leader),
              (5, [2: false, 3: false], .candidate), (5, [2: false, 3: false, 4: false], .follower),
          ])
    func electionOutcomes(size: Int, answers: [NodeID: Bool], expected: Role) {
        let voters = (1 ... UInt64(size)).map { NodeID($0) }
        var h = Harness(voters: voters)
        h.node.campaign()
        h.drain()
        for voter in answers.keys.sorted() {
            h.step(Message(kind: .voteResponse, from: voter, to: 1, term: h.node.term, reject: !answers[voter]!))
        }
        #expect(h.node.role == expected)
    }

    @Test("§5.2 a follower grants at most one vote per term, first come first served")
    func followerVotesOncePerTerm() {
        for (priorVote, candidate, granted) in [(NodeID.none, NodeID(2), true), (2, 2, true), (2, 3, false), (3, 2, false)] {
            var h = Harness(storage: storage(withTerms: [], hardState: HardState(term: 1, vote: priorVote)))
            h.step(Message(kind: .vote, from: candidate, to: 1, term: 1))
            let response = h.drain().first { $0.kind == .voteResponse }
            #expect(response?.reject == !granted, "prior vote \(priorVote), candidate \(candidate)")
        }
    }

    @Test("§5.2 a candidate returns to follower on an append from a leader of its term or later")
    func candidateFallsBack() {
        for leaderTerm: UInt64 in [1, 2] {
            var h = Harness()
            h.node.campaign()
            h.drain()
            #expect(h.node.term == 1)
            h.step(Message(kind: .append, from: 2, to: 1, term: Term(leaderTerm)))
            #expect(h.node.role == .follower)
            #expect(h.node.term == Term(leaderTerm))
            #expect(h.node.leader == 2)
        }
    }

    @Test("§5.2 election timeouts are randomized in [timeout, 2 × timeout)")
    func electionTimeoutsAreRandomized() {
        var seen = Set<Int>()
        for seed: UInt64 in 1 ... 200 {
            var h = Harness(seed: seed) { $0.electionTimeoutTicks = 10 }
            var ticks = 0
            while h.node.role == .follower && ticks < 100 {  // bounded: a node that never campaigns fails below
                h.tick()
                ticks += 1
            }
            #expect((10 ..< 20).contains(ticks))
            seen.insert(ticks)
        }
        #expect(seen.count > 5, "timeouts are not spread out: \(seen.sorted())")
    }

    // MARK: §5.3 Log replication

    @Test("§5.3 a leader appends a proposal to its log and sends it to every follower")
    func leaderStartsReplication() throws {
        var h = Harness()
        h.becomeReplicatingLeader()
        let last = h.node.lastIndex
        try h.node.propose([Proposal(payload: [7])])
        let appends = h.drain().filter { $0.kind == .append && !$0.entries.isEmpty }
        #expect(Set(appends.map(\.to)) == [2, 3])
        for append in appends {
            #expect(append.entries.map(\.payload) == [[7]])
            #expect(append.entries[0].index == last + 1)
            #expect(append.entries[0].term == h.node.term)
        }
        #expect(h.node.lastIndex == last + 1)
        #expect(h.node.commitIndex < last + 1)
    }

    @Test("§5.3 a leader commits an entry once a majority holds it and tells followers")
    func leaderCommitsOnMajority() throws {
        var h = Harness()
        h.becomeReplicatingLeader()
        h.applied = []
        let index = try h.node.propose([Proposal(payload: [1])]).indexes.upperBound
        h.drain()
        #expect(h.node.commitIndex < index)
        h.step(Message(kind: .appendResponse, from: 2, to: 1, term: h.node.term, index: index))
        #expect(h.node.commitIndex == index)
        let messages = h.drain()
        #expect(payloads(h.applied) == [[1]])
        #expect(messages.contains { $0.kind == .append && $0.to == 3 && $0.commit == index })
    }

    @Test("§5.3 a follower commits up to the leader's commit index, bounded by what it holds")
    func followerCommits() {
        var h = Harness()
        h.step(Message(kind: .append, from: 2, to: 1, term: 1, entries: [entry(1, 1, [1]), entry(2, 1, [2])], commit: 5))
        #expect(h.node.commitIndex == 2)
        h.drain()
        #expect(payloads(h.applied) == [[1], [2]])
    }

    @Test("§5.3 a follower rejects an append whose previous entry does not match", arguments: [
        (UInt64(0), UInt64(0), false), (2, 2, false), (1, 1, false), (2, 1, true), (3, 3, true),
    ])
    func followerChecksPreviousEntry(previousIndex: UInt64, previousTerm: UInt64, rejected: Bool) {
        var h = Harness(storage: storage(withTerms: [1, 2]))
        h.step(Message(kind: .append, from: 2, to: 1, term: 2, logTerm: Term(previousTerm), index: LogIndex(previousIndex)))
        let response = h.drain().first { $0.kind == .appendResponse }
        #expect(response?.reject == rejected)
        if rejected { #expect(response?.rejectHint ?? 99 <= 2) }
    }

    @Test("§5.3 a follower deletes a conflicting suffix and appends the leader's entries", arguments: [
        (UInt64(2), UInt64(2), [entry(3, 3)], [UInt64(1), 2, 3]),
        (1, 1, [entry(2, 3), entry(3, 4)], [1, 3, 4]),
        (0, 0, [entry(1, 1)], [1, 2]),
        (0, 0, [entry(1, 3)], [3]),
    ])
    func followerAppendsEntries(index: UInt64, term: UInt64, entries: [Entry], expectedTerms: [UInt64]) {
        var h = Harness(storage: storage(withTerms: [1, 2]))
        h.step(Message(kind: .append, from: 2, to: 1, term: 4, logTerm: Term(term), index: LogIndex(index), entries: entries))
        h.drain()
        #expect(h.node.logEntries().map(\.term.rawValue) == expectedTerms)
    }

    @Test("§5.3 a leader forces followers' divergent logs to duplicate its own (Figure 7)")
    func leaderSyncsFollowerLogs() {
        let leaderTerms: [UInt64] = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
        let followers: [[UInt64]] = [
            [1, 1, 1, 4, 4, 5, 5, 6, 6],          // (a)
            [1, 1, 1, 4],                         // (b)
            [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],    // (c)
            [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], // (d)
            [1, 1, 1, 4, 4, 4, 4],                // (e)
            [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],    // (f)
        ]
        for followerTerms in followers {
            var leader = Harness(id: 1, storage: storage(withTerms: leaderTerms, hardState: HardState(term: 8)))
            var follower = Harness(id: 2, storage: storage(withTerms: followerTerms, hardState: HardState(term: 8)))
            leader.becomeLeader()
            var toFollower = leader.drain().filter { $0.to == 2 }
            var rounds = 0
            while !toFollower.isEmpty && rounds < 100 {
                rounds += 1
                for message in toFollower { follower.step(message) }
                for response in follower.drain() { leader.step(response) }
                toFollower = leader.drain().filter { $0.to == 2 }
            }
            #expect(follower.node.logEntries() == leader.node.logEntries(), "follower \(followerTerms)")
            #expect(follower.node.commitIndex == leader.node.lastIndex, "follower \(followerTerms)")
            #expect(rounds < 10, "probing took \(rounds) round trips for follower \(followerTerms)")
        }
    }

    // MARK: §5.4 Safety

    @Test("§5.4.1 a voter refuses a candidate whose log is less up-to-date", arguments: [
        (UInt64(2), UInt64(2), false), (3, 2, false), (1, 2, true), (5, 1, true), (2, 3, false), (1, 3, false),
    ])
    func voterChecksUpToDate(candidateIndex: UInt64, candidateTerm: UInt64, rejected: Bool) {
        // Our log: 1/1, 2/2.
        var h = Harness(storage: storage(withTerms: [1, 2]))
        h.step(Message(kind: .vote, from: 2, to: 1, term: 3, logTerm: Term(candidateTerm), index: LogIndex(candidateIndex)))
        let response = h.drain().first { $0.kind == .voteResponse }
        #expect(response?.reject == rejected)
    }

    @Test("§5.4.2 a leader commits by counting replicas only entries of its own term")
    func leaderCommitsOnlyCurrentTerm() {
        // A leader of term 3 whose log holds entries of terms 1 and 2 it did not create.
        var h = Harness(storage: storage(withTerms: [1, 2], hardState: HardState(term: 2)))
        h.becomeLeader()
        h.drain()
        #expect(h.node.term == 3)
        // A majority holds index 2 (of term 2): not enough to commit it.
        h.step(Message(kind: .appendResponse, from: 2, to: 1, term: 3, index: 2))
        #expect(h.node.commitIndex == 0)
        // The no-op of term 3 at index 3 reaches a majority: it and everything before commit.
        h.step(Message(kind: .appendResponse, from: 2, to: 1, term: 3, index: 3))
        #expect(h.node.commitIndex == 3)
    }

    // MARK: §8 Client interaction

    @Test("§8 a new leader appends a no-op entry of its term")
    func newLeaderAppendsNoOp() {
        var h = Harness(storage: storage(withTerms: [1]))
        h.becomeLeader()
        let entries = h.node.logEntries()
        #expect(entries.last?.kind == .noOp)
        #expect(entries.last?.term == h.node.term)
    }

    @Test("§8 a follower refuses proposals and names the leader")
    func followerRefusesProposals() {
        var h = Harness()
        h.step(Message(kind: .heartbeat, from: 2, to: 1, term: 1))
        #expect(throws: ProposalError.notLeader(leaderHint: 2)) { try h.node.propose([Proposal(payload: [1])]) }
    }
}
