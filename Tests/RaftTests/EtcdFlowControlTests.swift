import Raft
import Testing

/// etcd-io/raft's flow-control cases (raft_flow_control_test.go, raft_test.go
/// `TestSendAppendForProgress*`, testdata/replicate_pause.txt and
/// testdata/slow_follower_after_compaction.txt), ported to Spool's public API.
@Suite("etcd-io/raft flow control", .timeLimit(.minutes(1)))
struct EtcdFlowControlTests {
    static let window = 4

    /// Leader 1 of {1, 2} with follower 2 replicating and an inflight window of `window`
    /// (etcd: `newTestRaft(1, 5, 1, withPeers(1, 2))`, `pr2.BecomeReplicate()`).
    private func replicatingLeader(window: Int = Self.window) -> Harness {
        var h = Harness(voters: [1, 2]) { $0.maxInflightAppendsPerFollower = window }
        h.becomeReplicatingLeader()
        h.drain()
        return h
    }

    private func propose(_ h: inout Harness) -> [Message] {
        _ = try? h.node.propose([Proposal(payload: Array("somedata".utf8))])
        return h.drain()
    }

    private func heartbeatResponse(_ h: inout Harness) -> [Message] {
        h.step(Message(kind: .heartbeatResponse, from: 2, to: 1, term: h.node.term))
        return h.drain()
    }

    /// Fills the window: one append per proposal, `window` of them.
    private func fillWindow(_ h: inout Harness) {
        for _ in 0 ..< Self.window {
            let messages = propose(&h)
            #expect(messages.count == 1 && messages.first?.kind == .append, "\(messages)")
        }
    }

    // raft_flow_control_test.go TestMsgAppFlowControlFull: appends fill the window until it is
    // full; then no append is sent at all.
    @Test func msgAppFlowControlFull() {
        var h = replicatingLeader()
        fillWindow(&h)
        #expect(h.node.progress(of: 2)?.isPaused == true)
        #expect(h.node.progress(of: 2)?.inflightAppends == Self.window)
        for _ in 0 ..< 10 { #expect(propose(&h).isEmpty) }
    }

    // raft_flow_control_test.go TestMsgAppFlowControlMoveForward: an acknowledgement slides the
    // window past every append it covers; a stale one changes nothing.
    @Test func msgAppFlowControlMoveForward() {
        var h = replicatingLeader()
        fillWindow(&h)
        // Index 1 is the no-op: the first proposal is index 2.
        for acknowledged in 2 ..< Self.window + 1 {
            h.step(Message(kind: .appendResponse, from: 2, to: 1, term: h.node.term, index: LogIndex(UInt64(acknowledged))))
            h.drain()
            let messages = propose(&h)
            #expect(messages.count == 1 && messages.first?.kind == .append && messages.first?.entries.count == 1)
            #expect(h.node.progress(of: 2)?.isPaused == true)
            for stale in 0 ..< acknowledged {
                h.step(Message(kind: .appendResponse, from: 2, to: 1, term: h.node.term, index: LogIndex(UInt64(stale))))
                #expect(h.node.progress(of: 2)?.isPaused == true)
                #expect(h.drain().isEmpty)
            }
        }
    }

    // raft_flow_control_test.go TestMsgAppFlowControlRecvHeartbeat: with the window full, a
    // heartbeat response frees no slot: it lets one empty append out (a probe), and proposals
    // stay queued until the follower acknowledges (issue 16: it used to free the oldest slot, so
    // a full batch left per heartbeat).
    @Test func msgAppFlowControlRecvHeartbeat() {
        var h = replicatingLeader()
        fillWindow(&h)
        for heartbeats in 1 ..< 5 {
            for _ in 0 ..< heartbeats {
                #expect(h.node.progress(of: 2)?.isPaused == true)
                let messages = heartbeatResponse(&h)
                #expect(messages.count == 1, "\(messages)")
                #expect(messages.first?.kind == .append)
                #expect(messages.first?.entries.isEmpty == true, "\(messages)")
            }
            for _ in 0 ..< 10 {
                #expect(h.node.progress(of: 2)?.isPaused == true)
                #expect(propose(&h).isEmpty)
            }
            #expect(h.node.progress(of: 2)?.inflightAppends == Self.window)
            _ = heartbeatResponse(&h)
        }
    }

    // What the bound promises, over many heartbeats: a follower that answers heartbeats but
    // never acknowledges an append receives at most `window` appends with entries, whatever the
    // leader's backlog (etcd removed heartbeat-freed slots because the limit "can be exceeded
    // arbitrarily").
    @Test func slowFollowerNeverExceedsWindow() {
        var h = replicatingLeader()
        var withEntries = 0
        for _ in 0 ..< 30 {
            withEntries += propose(&h).filter { $0.kind == .append && !$0.entries.isEmpty }.count
            h.tick()
            h.drain()
            withEntries += heartbeatResponse(&h).filter { $0.kind == .append && !$0.entries.isEmpty }.count
        }
        #expect(withEntries == Self.window)
    }

    // raft_test.go TestSendAppendForProgressProbe: a probing follower gets one append, then
    // nothing until a heartbeat response, which lets exactly one more go.
    @Test func sendAppendForProgressProbe() {
        var h = Harness(voters: [1, 2])
        h.becomeLeader()
        let probe = h.drain().filter { $0.kind == .append }
        #expect(probe.count == 1 && probe.first?.index == 0)
        for _ in 0 ..< 3 {
            #expect(h.node.progress(of: 2)?.isPaused == true)
            for _ in 0 ..< 10 { #expect(propose(&h).isEmpty) }
            h.tick()  // heartbeatIntervalTicks
            #expect(h.node.progress(of: 2)?.isPaused == true)
            #expect(h.drain().map(\.kind) == [.heartbeat])
        }
        let next = heartbeatResponse(&h)
        #expect(next.count == 1 && next.first?.kind == .append && next.first?.index == 0)
        #expect(h.node.progress(of: 2)?.isPaused == true)
    }

    // raft_test.go TestSendAppendForProgressReplicate: a replicating follower gets one append per
    // proposal while the window has room.
    @Test func sendAppendForProgressReplicate() {
        var h = replicatingLeader(window: 64)
        for _ in 0 ..< 10 { #expect(propose(&h).count == 1) }
    }

    // testdata/replicate_pause.txt: node 3's window is full and every append in it was lost. A
    // heartbeat round trip brings exactly one empty append to node 3, which rejects it (its log
    // has a gap); the rejection resets the flow and node 3 catches up.
    @Test func replicatePause() throws {
        let cluster = etcdNetwork { $0.maxInflightAppendsPerFollower = 3 }
        cluster.campaign(1)
        cluster.cutOneWay(from: 1, to: 3)
        for value: UInt8 in 2 ... 4 { try cluster.propose(1, [value]) }
        var three = try #require(cluster.progress(1, of: 3))
        #expect(three.state == .replicate && three.match == 1 && three.next == 5)
        #expect(three.isPaused && three.inflightAppends == 3)
        // Three more proposals commit on nodes 1 and 2; node 3's flow stays paused.
        for value: UInt8 in 5 ... 7 { try cluster.propose(1, [value]) }
        #expect(cluster.node(1).commitIndex == 7)
        three = try #require(cluster.progress(1, of: 3))
        #expect(three.match == 1 && three.next == 5 && three.isPaused)

        cluster.heal()
        cluster.autoDeliver = false
        cluster.tick(1)
        cluster.stabilize()
        let heartbeats = cluster.takeInFlight()
        #expect(heartbeats.map(\.kind) == [.heartbeat, .heartbeat])
        for message in heartbeats { cluster.deliver(message) }
        cluster.stabilize()
        for message in cluster.takeInFlight() { cluster.deliver(message) }  // heartbeat responses
        cluster.stabilize()
        let probe = cluster.takeInFlight()
        #expect(probe.count == 1, "\(probe)")
        #expect(probe.first?.kind == .append && probe.first?.to == 3)
        #expect(probe.first?.index == 4 && probe.first?.entries.isEmpty == true)
        for message in probe { cluster.deliver(message) }
        cluster.stabilize()
        let rejection = cluster.takeInFlight()
        #expect(rejection.first?.kind == .appendResponse && rejection.first?.reject == true)
        #expect(rejection.first?.rejectHint == 1)

        cluster.autoDeliver = true
        for message in rejection { cluster.deliver(message) }
        cluster.stabilize()
        three = try #require(cluster.progress(1, of: 3))
        #expect(three.state == .replicate && three.match == 7 && three.next == 8)
        #expect(cluster.appliedPayloads(3) == (2 ... 7).map { [UInt8($0)] })
        #expect(cluster.checker.violations.isEmpty)
    }

    // testdata/slow_follower_after_compaction.txt: node 3's window is full, its appends were lost,
    // and the leader compacted the entry before node 3's next index. The heartbeat response must
    // still lead somewhere: a snapshot, not a skipped probe (etcd-io/raft PR 31, a stall).
    @Test func slowFollowerAfterCompaction() throws {
        let cluster = etcdNetwork { $0.maxInflightAppendsPerFollower = 2 }
        cluster.campaign(1)
        for value: UInt8 in 2 ... 4 { try cluster.propose(1, [value]) }
        for id in cluster.ids { #expect(cluster.progress(1, of: id)?.match == 4) }
        cluster.cutOneWay(from: 1, to: 3)
        for value: UInt8 in 5 ... 8 { try cluster.propose(1, [value]) }
        var three = try #require(cluster.progress(1, of: 3))
        #expect(three.state == .replicate && three.match == 4 && three.next == 7)
        #expect(three.isPaused && three.inflightAppends == 2)
        // Compact the leader's log past node 3's next index - 1.
        try cluster.storages[1]!.compact(through: 7, snapshotData: [7])
        cluster.heal()
        cluster.tick(1)
        cluster.stabilize()
        three = try #require(cluster.progress(1, of: 3))
        #expect(three.state == .replicate && three.match == 8 && three.next == 9)
        #expect(try cluster.storages[3]!.snapshot().index == 7)
        #expect(cluster.node(3).commitIndex == 8)
        #expect(cluster.checker.violations.isEmpty)
    }

    // testdata/lagging_commit.txt: the leader never heard node 3 acknowledge entries it holds, and
    // the appends that carried their commit were lost. The heartbeat carries only
    // min(match, commit), so node 3 learns the commit from the empty append its heartbeat response
    // brings (a round trip later, as in etcd; etcd-io/raft issue 138).
    @Test func laggingCommit() throws {
        let cluster = etcdNetwork()
        cluster.campaign(1)
        cluster.autoDeliver = false
        try cluster.propose(1, Array("data1".utf8))
        try cluster.propose(1, Array("data2".utf8))
        for message in cluster.takeInFlight() { cluster.deliver(message) }
        // A network blip: node 3's acknowledgements and the commits sent to it are lost.
        cluster.drop = { $0.from == 3 || $0.to == 3 }
        cluster.autoDeliver = true
        cluster.stabilize()
        cluster.drop = nil
        let three = try #require(cluster.progress(1, of: 3))
        #expect(three.state == .replicate && three.match == 1 && three.next == 4 && three.inflightAppends == 2)
        #expect(cluster.node(1).commitIndex == 3 && cluster.node(2).commitIndex == 3)
        #expect(cluster.node(3).lastIndex == 3 && cluster.node(3).commitIndex == 1)

        cluster.autoDeliver = false
        cluster.tick(1)
        cluster.stabilize()
        let heartbeats = cluster.takeInFlight()
        #expect(heartbeats.first { $0.to == 3 }?.commit == 1)
        for message in heartbeats where message.to == 3 { cluster.deliver(message) }
        cluster.stabilize()
        for message in cluster.takeInFlight() { cluster.deliver(message) }  // node 3's heartbeat response
        cluster.stabilize()
        let append = cluster.takeInFlight()
        #expect(append.count == 1 && append.first?.kind == .append && append.first?.to == 3, "\(append)")
        #expect(append.first?.index == 3 && append.first?.commit == 3 && append.first?.entries.isEmpty == true)
        cluster.autoDeliver = true
        for message in append { cluster.deliver(message) }
        cluster.stabilize()
        #expect(cluster.node(3).commitIndex == 3)
        #expect(cluster.progress(1, of: 3)?.match == 3)
        #expect(cluster.appliedPayloads(3) == [Array("data1".utf8), Array("data2".utf8)])
    }
}
