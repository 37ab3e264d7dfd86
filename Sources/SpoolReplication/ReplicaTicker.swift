import NIOConcurrencyHelpers
import NIOCore

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
    }

    private struct State {
        var drivers: [ReplicaDriver] = []
        var task: RepeatedTask?
        var counts = Counts()
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

    func register(_ driver: ReplicaDriver) {
        state.withLockedValue { state in
            precondition(!state.drivers.contains { $0 === driver }, "\(driver.group) registered twice with the ticker")
            state.drivers.append(driver)
            state.counts.drivers = state.drivers.count
        }
    }

    func unregister(_ driver: ReplicaDriver) {
        state.withLockedValue { state in
            state.drivers.removeAll { $0 === driver }
            state.counts.drivers = state.drivers.count
        }
    }

    /// One tick for every driver, under the lock so that `unregister` is final when it returns.
    /// Each post is a mailbox lock and an increment, plus a pool submission for the few due.
    private func round() {
        state.withLockedValue { state in
            var woke = 0
            for driver in state.drivers where driver.tick() { woke += 1 }
            state.counts.rounds += 1
            state.counts.posted += state.drivers.count
            state.counts.woke += woke
        }
    }
}
