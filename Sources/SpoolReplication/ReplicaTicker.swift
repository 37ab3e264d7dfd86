import NIOConcurrencyHelpers
import NIOCore
import Raft
import SpoolPeer

/// One per broker: the clock of every Raft group it runs. One repeated task on one event loop
/// posts each tick into every registered driver's mailbox, so the cost of time does not grow with
/// a timer per partition (docs/replication.md §11, "Ticks").
///
/// Posting a tick only takes the driver's mailbox lock and adds one to a counter. The driver
/// submits a storage-thread cycle for it only when its node has a timer due (a heartbeat, an
/// election timeout, a proposal's deadline: `RaftNode.ticksUntilTimerFires`) or after
/// `ReplicaConfig.maxHeldTicks`; until then its ticks wait in the mailbox and the next cycle,
/// whatever wakes it, hands them to the node first, in order. An idle group therefore costs a
/// lock and an increment per tick, not a cycle.
///
/// Drivers register when they open and unregister when they stop or fail; once `unregister`
/// returns, the ticker posts nothing more to that driver (the round runs under the same lock).
/// The ticker holds its drivers strongly until then.
public final class ReplicaTicker: Sendable {
    public let eventLoop: any EventLoop
    /// Wall-clock length of one Raft tick, in milliseconds. With RaftConfig's defaults (election
    /// timeout 10 ticks, heartbeat 1 tick) 100 ms gives elections after 1–2 s of silence and a
    /// heartbeat every 100 ms, etcd's recommended ratio.
    public let tickIntervalMs: Int64
    private let state = NIOLockedValueBox(State())

    public struct Counts: Hashable, Sendable {
        /// Ticks of the clock so far.
        public var rounds = 0
        /// Ticks posted, over every driver.
        public var posted = 0
        /// Posted ticks that submitted a cycle (the rest were held in the mailbox).
        public var woke = 0
        /// Drivers registered now.
        public var drivers = 0
        /// Drivers whose group is quiesced (not ticked), as of the last round.
        public var quiesced = 0
        /// Rounds in which some peer's liveness changed (each wakes the quiesced groups it shares).
        public var livenessChanges = 0
    }

    private struct State {
        /// Drivers ticked each round.
        var drivers: [ReplicaDriver] = []
        /// Drivers whose group is quiesced: not ticked at all (a quiet group costs nothing per
        /// round) until a liveness change of one of their voters' brokers wakes them, or their
        /// own cycle reports them awake again (`setQuiet`).
        var quiet: [ObjectIdentifier: ReplicaDriver] = [:]
        var task: RepeatedTask?
        var counts = Counts()
        var peers: (@Sendable () -> [NodeID: PeerLiveness])?
        var lastLiveness: [NodeID: PeerLiveness] = [:]
    }

    /// Starts ticking every `tickIntervalMs` on `eventLoop`.
    public init(eventLoop: any EventLoop, tickIntervalMs: Int64 = 100) {
        precondition(tickIntervalMs > 0, "tickIntervalMs must be positive")
        self.eventLoop = eventLoop
        self.tickIntervalMs = tickIntervalMs
        let interval = TimeAmount.milliseconds(tickIntervalMs)
        let task = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak self] _ in
            self?.round()
        }
        state.withLockedValue { $0.task = task }
    }

    /// Stops the clock (a broker shutting down). Registered drivers get no more ticks.
    public func stop() {
        state.withLockedValue { $0.task.take() }?.cancel()
    }

    public var counts: Counts { state.withLockedValue { $0.counts } }

    /// Where each round reads the peers' liveness (`ReplicaRouter.peerLiveness`): a change of a
    /// peer's (live or not, or its replicas' generation) wakes every quiesced group with a voter
    /// there (docs/replication.md, "Quiescence").
    public func watchPeers(_ liveness: @escaping @Sendable () -> [NodeID: PeerLiveness]) {
        state.withLockedValue { $0.peers = liveness }
    }

    func register(_ driver: ReplicaDriver) {
        state.withLockedValue { state in
            precondition(!state.drivers.contains { $0 === driver }, "\(driver.group) registered twice with the ticker")
            state.drivers.append(driver)
            state.counts.drivers = state.drivers.count + state.quiet.count
        }
    }

    func unregister(_ driver: ReplicaDriver) {
        state.withLockedValue { state in
            state.drivers.removeAll { $0 === driver }
            state.quiet[ObjectIdentifier(driver)] = nil
            state.counts.drivers = state.drivers.count + state.quiet.count
        }
    }

    /// A registered driver's group went quiet (no more ticks) or woke (ticks again). Ignored for
    /// a driver not registered (stopped meanwhile).
    func setQuiet(_ driver: ReplicaDriver, _ quiet: Bool) {
        state.withLockedValue { state in
            let id = ObjectIdentifier(driver)
            if quiet {
                guard let index = state.drivers.firstIndex(where: { $0 === driver }) else { return }
                state.drivers.remove(at: index)
                state.quiet[id] = driver
            } else {
                guard state.quiet.removeValue(forKey: id) != nil else { return }
                state.drivers.append(driver)
            }
        }
    }

    /// One tick for every driver, under the lock so that `unregister` is final when it returns.
    /// Each post is a mailbox lock and an increment, plus a pool submission for the few due.
    private func round() {
        state.withLockedValue { state in
            var changed: Set<NodeID> = []
            if let peers = state.peers {
                let now = peers()
                for (peer, liveness) in now where state.lastLiveness[peer] != liveness { changed.insert(peer) }
                for peer in state.lastLiveness.keys where now[peer] == nil { changed.insert(peer) }
                state.lastLiveness = now
                if !changed.isEmpty { state.counts.livenessChanges += 1 }
            }
            if !changed.isEmpty {
                // Each woken driver's cycle moves it back (`setQuiet`), unless it goes quiet
                // again at once, so the lists always say what the last cycle reported.
                for driver in state.quiet.values where driver.hasVoter(in: changed) { driver.wake() }
            }
            var woke = 0
            // A ticked driver is woken too: its cycle running now may be the one that quiesces
            // it, after this change was seen (a no-op for a group that stays awake).
            for driver in state.drivers where driver.tick(wake: !changed.isEmpty && driver.hasVoter(in: changed)) { woke += 1 }
            state.counts.quiesced = state.quiet.count
            state.counts.rounds += 1
            state.counts.posted += state.drivers.count
            state.counts.woke += woke
        }
    }
}
