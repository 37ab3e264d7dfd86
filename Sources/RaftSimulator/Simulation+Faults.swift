import Raft

/// Fault injection, crash/restart and the client workload.
extension Simulation {
    func applyScheduledFaults() {
        while nextPlanEvent < plan.events.count, plan.events[nextPlanEvent].tick <= tick {
            let fault = plan.events[nextPlanEvent].fault
            nextPlanEvent += 1
            record(.fault(fault))
            apply(fault)
        }
    }

    func apply(_ fault: Fault) {
        switch fault {
        case .partition(let groups): network.partition(groups)
        case .cutOneWay(let from, let to): network.cutLink(from: from, to: to)
        case .heal: network.heal()
        case .crash(let id): crash(node(id))
        case .restart(let id): restart(node(id))
        case .slowDisk(let id, let latency): node(id).diskLatencyTicks = latency
        case .fastDisk(let id): node(id).diskLatencyTicks = 0
        case .transferLeadership(let target):
            if let leader = nodes.first(where: { $0.raft?.role == .leader }) {
                stats.leadershipTransfers += 1
                leader.raft!.transferLeadership(to: target)
                observe(leader)
            }
        }
    }

    func node(_ id: NodeID) -> SimNode { nodes[Int(id.rawValue) - 1] }

    /// The node loses its Raft state, its state machine, its clients and any write still in flight.
    func crash(_ node: SimNode) {
        guard node.isUp else { return }
        stats.crashes += 1
        record(.crash(node.id, lostWrite: node.pendingWrite != nil))
        node.raft = nil
        node.pendingWrite = nil
        node.proposals = [:]
    }

    /// Rebuilds the node from its storage, as a process restart would.
    func restart(_ node: SimNode) {
        guard !node.isUp else { return }
        node.incarnation += 1
        let snapshot: Snapshot
        do { snapshot = try node.storage.snapshot() } catch { preconditionFailure("snapshot: \(error)") }
        let chain = snapshot.isEmpty ? 0 : SimNode.StateMachine.decode(snapshot.data).1
        node.machine = SimNode.StateMachine(index: snapshot.index, chain: chain)
        var seed = Fingerprint()
        seed.mix(options.seed)
        seed.mix(node.id.rawValue)
        seed.mix(node.incarnation)
        let raft = RaftNode(config: options.raftConfig(id: node.id, voters: ids), storage: node.storage,
                            random: SplitMix64(seed: seed.value))
        node.raft = raft
        node.observedRole = raft.role
        node.observedTerm = raft.term
        node.justRestarted = true
        record(.restart(node.id, raft.hardState, lastIndex: raft.lastIndex))
        if !snapshot.isEmpty { checker.observeApplied(node: node.id, index: snapshot.index, chain: chain) }
        observe(node)
    }

    func proposeWorkload() {
        if inLiveness {
            proposeFinalEntry()
            return
        }
        for node in nodes where node.raft?.role == .leader {
            guard random.chance(options.proposalPerMille, in: 1000) else { continue }
            if let raft = node.raft, raft.lastIndex.distance(from: raft.commitIndex) >= options.maxUncommittedEntries {
                stats.proposalsRefused += 1
                continue
            }
            let count = 1 + Int(random.next(below: 3))
            var proposals: [Proposal] = []
            for _ in 0 ..< count {
                proposalCounter += 1
                let kind: EntryKind = random.chance(1, in: 10) ? .offsetCommit : .record
                proposals.append(Proposal(kind: kind, payload: Self.payload(proposalCounter)))
            }
            propose(proposals, on: node)
        }
    }

    @discardableResult
    func propose(_ proposals: [Proposal], on node: SimNode) -> (term: Term, indexes: ClosedRange<LogIndex>)? {
        guard let result = try? node.raft!.propose(proposals) else { return nil }
        var index = result.indexes.lowerBound
        while index <= result.indexes.upperBound {
            node.proposals[index] = result.term
            index = index + 1
        }
        stats.proposed += proposals.count
        record(.propose(node.id, result.term, first: result.indexes.lowerBound, last: result.indexes.upperBound))
        return result
    }

    static func payload(_ counter: UInt64) -> [UInt8] {
        (0 ..< 8).map { UInt8(truncatingIfNeeded: counter >> (8 * $0)) }
    }

    // MARK: Liveness phase

    func beginLiveness() {
        inLiveness = true
        record(.phase("liveness phase: network healed, crashed nodes restarted, disks fast"))
        network.heal()
        for node in nodes {
            node.diskLatencyTicks = 0
            restart(node)
        }
    }

    /// Once a node leads, propose one entry in its term (again when the leader or term changes).
    func proposeFinalEntry() {
        guard let leader = nodes.first(where: { $0.raft?.role == .leader }), let raft = leader.raft else { return }
        if let final = finalProposal, final.term == raft.term { return }
        proposalCounter += 1
        if let result = propose([Proposal(kind: .record, payload: Self.payload(proposalCounter))], on: leader) {
            finalProposal = (result.term, result.indexes.upperBound)
        }
    }

    /// Converged: every node is up and follows the one leader, which committed the final proposal
    /// and everything it holds, and every node applied exactly that far with no disk write pending.
    func checkConverged() -> Bool {
        let leaders = nodes.filter { $0.raft?.role == .leader }
        guard leaders.count == 1, let leader = leaders.first?.raft, let final = finalProposal,
              final.term == leader.term, leader.commitIndex >= final.index,
              leader.lastIndex == leader.commitIndex else { return false }
        for node in nodes {
            guard let raft = node.raft, raft.leader == leader.id, raft.term == leader.term,
                  node.machine.appliedIndex == leader.commitIndex, node.pendingWrite == nil else { return false }
        }
        let highestAcknowledged = checker.acknowledged.keys.max() ?? .zero
        if highestAcknowledged > leader.commitIndex {
            checker.record(.stateMachineSafety, "acknowledged \(highestAcknowledged) beyond the converged commit \(leader.commitIndex)")
        }
        return true
    }
}
