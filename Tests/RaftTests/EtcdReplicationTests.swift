import Raft
import Testing

/// etcd-io/raft's log replication and snapshot cases (raft_test.go `TestFastLogRejection`,
/// `TestLeaderAppResp`; raft_snap_test.go), ported to Spool's public API.
@Suite("etcd-io/raft replication and snapshots", .timeLimit(.minutes(1)))
struct EtcdReplicationTests {
    struct FastLogRejectionCase: Sendable, CustomTestStringConvertible {
        var leaderTerms: [UInt64]
        var followerTerms: [UInt64]
        /// Index through which the follower's log is compacted (0: not compacted).
        var followerCompact: UInt64 = 0
        var rejectHintTerm: UInt64
        var rejectHintIndex: UInt64
        var nextAppendTerm: UInt64
        var nextAppendIndex: UInt64

        var testDescription: String { "leader \(leaderTerms) follower \(followerTerms)" }
    }

    // The table of etcd's TestFastLogRejection, with its comments.
    static let fastLogRejectionCases: [FastLogRejectionCase] = [
        // The leader finds the conflict index quickly: it appends at 7/4, then after the rejection
        // at 3/2.
        .init(leaderTerms: [1, 2, 2, 4, 4, 4, 4], followerTerms: [1, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3],
              rejectHintTerm: 3, rejectHintIndex: 7, nextAppendTerm: 2, nextAppendIndex: 3),
        // Same, appending at 8/5 and then at 4/3.
        .init(leaderTerms: [1, 2, 2, 3, 4, 4, 4, 5], followerTerms: [1, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3],
              rejectHintTerm: 3, rejectHintIndex: 8, nextAppendTerm: 3, nextAppendIndex: 4),
        // The follower finds the conflict index quickly: 4/1, then 1/1.
        .init(leaderTerms: [1, 1, 1, 1], followerTerms: [1, 2, 2, 4],
              rejectHintTerm: 1, rejectHintIndex: 1, nextAppendTerm: 1, nextAppendIndex: 1),
        // Same, with a longer uncommitted tail on the leader: 6/1, then 1/1.
        .init(leaderTerms: [1, 1, 1, 1, 1, 1], followerTerms: [1, 2, 2, 4],
              rejectHintTerm: 1, rejectHintIndex: 1, nextAppendTerm: 1, nextAppendIndex: 1),
        // Same, with a longer uncommitted tail on the follower: 4/1, then 1/1.
        .init(leaderTerms: [1, 1, 1, 1], followerTerms: [1, 2, 2, 4, 4, 4],
              rejectHintTerm: 1, rejectHintIndex: 1, nextAppendTerm: 1, nextAppendIndex: 1),
        // No conflict, the follower is just behind: 5/5, then 4/4.
        .init(leaderTerms: [1, 1, 1, 4, 5], followerTerms: [1, 1, 1, 4],
              rejectHintTerm: 4, rejectHintIndex: 4, nextAppendTerm: 4, nextAppendIndex: 4),
        // The example in the comment of etcd's stepLeader (leader side).
        .init(leaderTerms: [2, 5, 5, 5, 5, 5, 5, 5, 5], followerTerms: [2, 4, 4, 4, 4, 4],
              rejectHintTerm: 4, rejectHintIndex: 6, nextAppendTerm: 2, nextAppendIndex: 1),
        // The example in the comment of etcd's handleAppendEntries (follower side).
        .init(leaderTerms: [2, 2, 2, 2, 2], followerTerms: [2, 4, 4, 4, 4, 4, 4, 4],
              rejectHintTerm: 2, rejectHintIndex: 1, nextAppendTerm: 2, nextAppendIndex: 1),
        // A stale append (3/3) reaches a follower that compacted beyond index 3: the rejection
        // names index 3 with term 0, and the leader backs off by one entry.
        .init(leaderTerms: [1, 1, 3], followerTerms: [1, 1, 3, 3, 3], followerCompact: 5,
              rejectHintTerm: 0, rejectHintIndex: 3, nextAppendTerm: 1, nextAppendIndex: 2),
    ]

    // raft_test.go TestFastLogRejection: one rejection points the leader at the right place.
    @Test(arguments: fastLogRejectionCases)
    func fastLogRejection(_ test: FastLogRejectionCase) throws {
        let lastTerm = test.leaderTerms.last!
        let lastIndex = LogIndex(UInt64(test.leaderTerms.count))
        // The leader is elected at lastTerm (its hard state is one term below), the follower
        // voted for it in that term.
        var leader = Harness(id: 1, storage: storage(withTerms: test.leaderTerms,
                                                     hardState: HardState(term: Term(lastTerm - 1), commit: lastIndex)))
        leader.becomeLeader()
        #expect(leader.node.term == Term(lastTerm))
        leader.drain()
        var follower = Harness(id: 2, storage: storage(withTerms: test.followerTerms,
                                                       hardState: HardState(term: Term(lastTerm), vote: 1)))
        if test.followerCompact != 0 {
            // As in etcd, not a state a real follower reaches (its commit is still 0): the edge
            // case is exercised in case it happens some other way.
            try follower.storage.compact(through: LogIndex(test.followerCompact), snapshotData: [])
        }

        follower.step(Message(kind: .heartbeat, from: 1, to: 2, term: Term(lastTerm)))
        let heartbeatResponse = follower.drain()
        #expect(heartbeatResponse.map(\.kind) == [.heartbeatResponse])
        for message in heartbeatResponse { leader.step(message) }
        let append = leader.drain().filter { $0.to == 2 }
        #expect(append.map(\.kind) == [.append])
        for message in append { follower.step(message) }
        let rejection = try #require(follower.drain().first)
        #expect(rejection.kind == .appendResponse && rejection.reject)
        #expect(rejection.logTerm == Term(test.rejectHintTerm), "hint term")
        #expect(rejection.rejectHint == LogIndex(test.rejectHintIndex), "hint index")
        leader.step(rejection)
        let next = try #require(leader.drain().first { $0.to == 2 })
        #expect(next.kind == .append)
        #expect(next.logTerm == Term(test.nextAppendTerm), "next append term")
        #expect(next.index == LogIndex(test.nextAppendIndex), "next append index")
    }

    struct LeaderAppRespCase: Sendable, CustomTestStringConvertible {
        var index: UInt64
        var reject: Bool
        var match: UInt64
        var next: UInt64
        var messages: Int
        var messageIndex: UInt64
        var messageCommit: UInt64

        var testDescription: String { "\(reject ? "reject" : "accept") \(index)" }
    }

    // raft_test.go TestLeaderAppResp, the leader's answer to each kind of append response.
    // Leader 1 of {1, 2, 3} at term 1 with log 1/1, 2/1 and its no-op at 3: follower 2 starts at
    // match 0, next 3. etcd's test sends nothing on election; Spool's leader has already probed
    // node 3, so only messages to node 2 are counted.
    @Test(arguments: [
        LeaderAppRespCase(index: 3, reject: true, match: 0, next: 3, messages: 0, messageIndex: 0, messageCommit: 0),  // stale
        LeaderAppRespCase(index: 2, reject: true, match: 0, next: 2, messages: 1, messageIndex: 1, messageCommit: 0),  // denied: probe lower
        LeaderAppRespCase(index: 2, reject: false, match: 2, next: 4, messages: 1, messageIndex: 2, messageCommit: 2), // accepted: commit
        // A probing follower answering for match 0 moves to replicate and gets every entry.
        LeaderAppRespCase(index: 0, reject: false, match: 0, next: 4, messages: 1, messageIndex: 0, messageCommit: 0),
    ])
    func leaderAppResp(_ test: LeaderAppRespCase) {
        var h = Harness(storage: storage(withTerms: [1, 1], hardState: HardState.empty))
        h.becomeLeader()
        #expect(h.node.term == 1)
        h.drain()
        h.step(Message(kind: .appendResponse, from: 2, to: 1, term: h.node.term, index: LogIndex(test.index),
                       reject: test.reject, rejectHint: LogIndex(test.index)))
        let progress = h.node.progress(of: 2)
        #expect(progress?.match == LogIndex(test.match))
        #expect(progress?.next == LogIndex(test.next))
        let messages = h.drain().filter { $0.to == 2 }
        #expect(messages.count == test.messages, "\(messages)")
        for message in messages {
            #expect(message.index == LogIndex(test.messageIndex), "\(message)")
            #expect(message.commit == LogIndex(test.messageCommit), "\(message)")
        }
    }

    /// Leader 1 of {1, 2} over a storage restored from a snapshot at 11/11 (raft_snap_test.go's
    /// `testingSnap`), with follower 2 sent that snapshot: etcd's `BecomeSnapshot(11)` reached
    /// the way it happens, by a rejection of an append the follower cannot match.
    private func leaderSendingSnapshot() throws -> Harness {
        let storage = MemoryStorage(voters: [1, 2])
        try storage.applySnapshot(Snapshot(index: 11, term: 11, voters: [1, 2]))
        try storage.setHardState(HardState(term: 11, commit: 11))
        var h = Harness(voters: [1, 2], storage: storage)
        h.becomeLeader()
        h.drain()
        #expect(h.node.progress(of: 2)?.next == 12)
        h.step(Message(kind: .appendResponse, from: 2, to: 1, term: h.node.term, index: 11, reject: true, rejectHint: 0))
        let sent = h.drain()
        #expect(sent.map(\.kind) == [.snapshot])
        #expect(sent.first?.snapshot?.index == 11)
        return h
    }

    // raft_snap_test.go TestSendingSnapshotSetPendingSnapshot
    @Test func sendingSnapshotSetPendingSnapshot() throws {
        let h = try leaderSendingSnapshot()
        #expect(h.node.progress(of: 2)?.state == .snapshot)
        #expect(h.node.progress(of: 2)?.pendingSnapshot == 11)
    }

    // raft_snap_test.go TestPendingSnapshotPauseReplication: no appends while a snapshot is in
    // flight.
    @Test func pendingSnapshotPauseReplication() throws {
        var h = try leaderSendingSnapshot()
        try h.node.propose([Proposal(payload: Array("somedata".utf8))])
        #expect(h.drain().filter { $0.to == 2 }.isEmpty)
        #expect(h.node.progress(of: 2)?.isPaused == true)
    }

    // raft_snap_test.go TestSnapshotAbort: an acknowledgement at or beyond the pending snapshot
    // ends the snapshot state; the follower replicates and gets the leader's no-op at 12.
    @Test func snapshotAbort() throws {
        var h = try leaderSendingSnapshot()
        h.step(Message(kind: .appendResponse, from: 2, to: 1, term: h.node.term, index: 11))
        let progress = try #require(h.node.progress(of: 2))
        #expect(progress.pendingSnapshot == .zero)
        #expect(progress.state == .replicate)
        #expect(progress.next == 13)
        #expect(progress.inflightAppends == 1)
    }

    // raft_snap_test.go TestSnapshotFailure / TestSnapshotSucceed have no counterpart: Spool has
    // no ReportSnapshot (docs/replication.md §8.4). Its replacement, the retry timer: a snapshot
    // not acknowledged within snapshotRetryTicks sends the follower back to probing from after
    // the snapshot, and the probe's answer decides (another snapshot, or replication).
    @Test func snapshotRetryAfterTimeout() throws {
        var h = try leaderSendingSnapshot()
        h.tick(19)  // snapshotRetryTicks - 1
        #expect(h.node.progress(of: 2)?.state == .snapshot)
        h.tick()
        let progress = try #require(h.node.progress(of: 2))
        #expect(progress.state == .probe && progress.pendingSnapshot == .zero && progress.next == 12)
    }

    // testdata/snapshot_succeed_via_app_resp.txt: a snapshot at the leader's last (and committed)
    // index catches the follower up completely; its acknowledgement must move it straight back to
    // replicating (an old etcd bug left it probing until the next entry was committed).
    @Test func snapshotSucceedViaAppResp() throws {
        let cluster = etcdNetwork()
        cluster.isolate(3)
        cluster.campaign(1)
        #expect(cluster.node(1).commitIndex == 1)
        try cluster.storages[1]!.compact(through: 1, snapshotData: [1])
        cluster.heal()
        cluster.tick(1)  // the heartbeat response brings node 3 back into view
        cluster.stabilize()
        #expect(try cluster.storages[3]!.snapshot().index == 1)
        let three = try #require(cluster.progress(1, of: 3))
        #expect(three.state == .replicate && three.match == 1 && three.next == 2)
        #expect(three.pendingSnapshot == .zero)
        #expect(cluster.node(3).commitIndex == 1)
        #expect(cluster.checker.violations.isEmpty)
    }
}
