import Synchronization

/// Counters for `STATS`. Relaxed atomics: they are reports, not synchronization.
public final class BrokerStats: Sendable {
    public let recordsIn = Atomic<Int>(0)
    /// `PUB`s this broker sent on to the leader of their partition (a cluster only).
    public let recordsForwarded = Atomic<Int>(0)
    public let bytesIn = Atomic<Int>(0)
    public let recordsOut = Atomic<Int>(0)
    public let bytesOut = Atomic<Int>(0)
    public let requests = Atomic<Int>(0)
    public let errors = Atomic<Int>(0)
    public let connections = Atomic<Int>(0)
    public let connectionsTotal = Atomic<Int>(0)

    public init() {}

    @inline(__always)
    public static func add(_ counter: borrowing Atomic<Int>, _ amount: Int) {
        counter.wrappingAdd(amount, ordering: .relaxed)
    }
}
