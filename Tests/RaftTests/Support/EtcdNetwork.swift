import Raft

/// A `TestCluster` configured like etcd-io/raft's test `network` (raft_test.go `newNetwork`,
/// `newTestConfig`): election timeout 10 ticks, heartbeat 1 tick, pre-vote and check quorum off
/// unless `configure` turns them on. Ported etcd cases start from here, so a difference in
/// outcome is a difference of the core, not of the defaults.
func etcdNetwork(size: Int = 3, configure: @escaping (inout RaftConfig) -> Void = { _ in }) -> TestCluster {
    TestCluster(size: size) { config in
        config.electionTimeoutTicks = 10
        config.heartbeatIntervalTicks = 1
        config.preVote = false
        config.checkQuorum = false
        configure(&config)
    }
}

extension TestCluster {
    /// Runs `body` with delivery paused, so that everything it sends is delivered together
    /// afterwards (etcd's `nt.send` of several messages at once, e.g. two simultaneous `MsgHup`s).
    func together(_ body: () -> Void) {
        autoDeliver = false
        body()
        autoDeliver = true
        stabilize()
    }

    /// `leader`'s progress of `peer`, nil when `leader` does not lead.
    func progress(_ leader: NodeID, of peer: NodeID) -> Progress? {
        node(leader).progress(of: peer)
    }
}
