import Raft

/// A deterministic cluster simulation: Raft nodes, a lossy network, crashing nodes and slow disks,
/// all driven by one seed. Phase 1 (safety) injects the fault plan; phase 2 (liveness) heals
/// everything and the cluster must converge within the tick budget. Invariants are checked after
/// every step; a tick with a violation is the last one (the checker keeps the first few).
public final class Simulation {
    public let options: SimulationOptions
    public let plan: FaultPlan
    let ids: [NodeID]
    let nodes: [SimNode]
    var network = SimNetwork()
    public internal(set) var checker = SafetyChecker()
    public internal(set) var trace: Trace
    /// Drives message faults and the workload. Raft nodes get their own generators.
    var random: SplitMix64
    public internal(set) var tick: UInt64 = 0
    var nextPlanEvent = 0
    var proposalCounter: UInt64 = 0
    var inLiveness = false
    var finalProposal: (term: Term, index: LogIndex)?
    public internal(set) var convergedAtTick: UInt64?
    public internal(set) var stats = SimulationStats()

    public init(options: SimulationOptions) {
        self.options = options
        ids = (1 ... UInt64(options.nodeCount)).map { NodeID($0) }
        nodes = ids.map { SimNode(id: $0, voters: (1 ... UInt64(options.nodeCount)).map { NodeID($0) }) }
        plan = FaultPlan(seed: options.seed, nodes: ids, safetyTicks: options.safetyTicks,
                         minGapTicks: options.minFaultGapTicks, maxGapTicks: options.maxFaultGapTicks)
        trace = Trace(capacity: options.traceCapacity)
        random = SplitMix64(seed: options.seed)
        for node in nodes { restart(node) }
    }

    /// Runs both phases and the final checks.
    public func run() -> SimulationReport {
        record(.phase("safety phase: \(plan.events.count) faults over \(options.safetyTicks) ticks"))
        while tick < options.safetyTicks && checker.isClean { step() }
        if checker.isClean {
            beginLiveness()
            let deadline = tick + options.livenessBudgetTicks
            while tick < deadline && checker.isClean && convergedAtTick == nil {
                step()
                if checkConverged() { convergedAtTick = tick }
            }
            if checker.isClean && convergedAtTick == nil {
                checker.record(.liveness, "no convergence within \(options.livenessBudgetTicks) ticks after healing:\n" + nodeStatus())
            }
        }
        return SimulationReport(simulation: self)
    }

    /// One tick: faults, workload, deliveries, timers, disk writes, checks.
    public func step() {
        tick += 1
        checker.tick = tick
        if !inLiveness { applyScheduledFaults() }
        proposeWorkload()
        for message in network.takeDue(by: tick) { deliver(message) }
        for node in nodes where node.isUp {
            node.raft!.tick()
            observe(node)
        }
        for node in nodes where node.isUp { driveDisk(node) }
    }

    func record(_ event: TraceEvent) { trace.record(event, tick: tick) }

    // MARK: Network

    func deliver(_ message: Message) {
        let node = nodes[Int(message.to.rawValue) - 1]
        if network.isCut(from: message.from, to: message.to) {
            stats.messagesDropped += 1
            record(.drop(message, .partition))
            return
        }
        guard node.isUp else {
            stats.messagesDropped += 1
            record(.drop(message, .nodeDown))
            return
        }
        stats.messagesDelivered += 1
        record(.deliver(message))
        node.raft!.step(message)
        observe(node)
    }

    func send(_ message: Message) {
        if inLiveness {
            network.enqueue(message, deliverAt: tick + 1 + random.next(below: 2))
            return
        }
        if random.chance(options.lossPerMille, in: 1000) {
            stats.messagesDropped += 1
            record(.drop(message, .loss))
            return
        }
        var message = message
        if options.corruptionPerMille > 0, !message.entries.isEmpty,
           random.chance(options.corruptionPerMille, in: 1000) {
            let victim = Int(random.next(below: UInt64(message.entries.count)))
            message.entries[victim].payload.append(0xFF)
        }
        network.enqueue(message, deliverAt: tick + delay())
        if random.chance(options.duplicationPerMille, in: 1000) {
            record(.duplicate(message))
            network.enqueue(message, deliverAt: tick + delay())
        }
    }

    private func delay() -> UInt64 {
        if random.chance(options.longDelayPerMille, in: 1000) {
            return 1 + random.next(below: options.maxLongDelayTicks)
        }
        return 1 + random.next(below: options.maxDelayTicks)
    }

    // MARK: Disk and Ready handling

    func driveDisk(_ node: SimNode) {
        if let write = node.pendingWrite, write.completesAt <= tick {
            node.pendingWrite = nil
            complete(node, write.ready)
        }
        var rounds = 0
        // A few rounds per tick let a fast node answer within the tick, as a real driver would.
        while node.isUp, node.pendingWrite == nil, node.raft!.hasReady, rounds < 4 {
            rounds += 1
            let ready = node.raft!.ready()
            if node.diskLatencyTicks > 0 && ready.needsPersistence {
                node.pendingWrite = SimNode.PendingWrite(ready: ready, completesAt: tick + UInt64(node.diskLatencyTicks))
            } else {
                complete(node, ready)
            }
        }
    }

    /// Handles a Ready in contract order: persist, send, apply, advance.
    func complete(_ node: SimNode, _ ready: Ready) {
        let storage = node.storage
        if let snapshot = ready.snapshot {
            do { try storage.applySnapshot(snapshot) } catch { preconditionFailure("applySnapshot: \(error)") }
        }
        if let first = ready.entries.first {
            let previousTerm = (try? storage.term(at: first.index - 1)) ?? .zero
            checker.observePersistedEntries(node: node.id, entries: ready.entries, previousTerm: previousTerm,
                                            durableCommit: storage.hardState().commit)
            do { try storage.append(ready.entries) } catch { preconditionFailure("append: \(error)") }
        }
        if let hardState = ready.hardState {
            do { try storage.setHardState(hardState) } catch { preconditionFailure("setHardState: \(error)") }
            checker.observePersistedCommit(node: node.id, commit: hardState.commit)
        }
        if ready.needsPersistence {
            record(.persist(node.id, entries: ready.entries.count, lastIndex: storage.lastIndex(),
                            hardState: ready.hardState, snapshot: ready.snapshot?.index))
        }
        // Only now may messages leave: they may promise what was just written.
        for message in ready.messages { send(message) }
        if let snapshot = ready.snapshot {
            let (index, chain) = SimNode.StateMachine.decode(snapshot.data)
            precondition(index == snapshot.index, "snapshot data does not match its index")
            node.machine = SimNode.StateMachine(index: index, chain: chain)
            stats.snapshotsInstalled += 1
            checker.observeApplied(node: node.id, index: index, chain: chain)
        }
        for entry in ready.committedEntries {
            node.machine.apply(entry)
            checker.observeAppliedEntry(node: node.id, entry: entry)
            checker.observeApplied(node: node.id, index: entry.index, chain: node.machine.chain)
            if node.proposals[entry.index] == entry.term {
                // The proposing leader applied its own entry: the client hears "committed".
                node.proposals[entry.index] = nil
                checker.observeAcknowledged(entry)
                stats.acknowledged += 1
                record(.acknowledged(node.id, entry.index, entry.term))
            }
        }
        node.raft!.advance(ready)
        observe(node)
        compactIfNeeded(node)
    }

    /// Retention: drop old applied entries, leaving a snapshot of the state machine behind.
    func compactIfNeeded(_ node: SimNode) {
        let storage = node.storage
        let applied = node.machine.appliedIndex
        let first = storage.firstIndex()
        guard applied >= first, applied.distance(from: first) + 1 > options.retainedEntriesLimit else { return }
        let through = applied - options.compactionLagEntries
        do {
            try storage.compact(through: through, snapshotData: node.machine.encode(through: through))
        } catch {
            preconditionFailure("compact: \(error)")
        }
        node.machine.forget(before: through)
        stats.compactions += 1
        record(.compact(node.id, through: through))
    }

    // MARK: Observation

    func observe(_ node: SimNode) {
        guard let raft = node.raft else { return }
        if raft.role != node.observedRole || raft.term != node.observedTerm {
            let becameLeader = raft.role == .leader
            node.observedRole = raft.role
            node.observedTerm = raft.term
            record(.role(node.id, raft.role, raft.term, leader: raft.leader))
            checker.observeRole(node: node.id, term: raft.term, role: raft.role)
            if becameLeader {
                stats.elections += 1
                checker.observeNewLeader(node: node.id, term: raft.term, firstIndex: raft.firstIndex,
                                         lastIndex: raft.lastIndex, termAt: { raft.term(at: $0) })
            }
        }
        if raft.commitIndex != node.observedCommit || node.justRestarted {
            checker.observeCommit(node: node.id, commit: raft.commitIndex, restarted: node.justRestarted,
                                  termAt: { raft.term(at: $0) })
            if raft.commitIndex != node.observedCommit { record(.commit(node.id, raft.commitIndex)) }
            node.observedCommit = raft.commitIndex
            node.justRestarted = false
        }
    }

    /// One line per node: role, term, leader, indexes, disk.
    public func nodeStatus() -> String {
        nodes.map { node in
            guard let raft = node.raft else { return "  \(node.id): DOWN (storage last=\(node.storage.lastIndex()) \(node.storage.hardState()))" }
            return "  \(node.id): \(raft.role) \(raft.term) leader=\(raft.leader) first=\(raft.firstIndex) last=\(raft.lastIndex)/\(raft.lastTerm) commit=\(raft.commitIndex) applied=\(node.machine.appliedIndex) disk=\(node.diskLatencyTicks)t pendingWrite=\(node.pendingWrite != nil)"
        }.joined(separator: "\n")
    }
}
