import Synchronization

/// Counters of the peer transport. Relaxed atomics: they are reports, not synchronization.
public final class PeerTransportStats: Sendable {
    public let framesSent = Atomic<Int>(0)
    public let framesReceived = Atomic<Int>(0)
    public let messagesSent = Atomic<Int>(0)
    public let messagesReceived = Atomic<Int>(0)
    /// Messages dropped because their peer's queue was full (`queuedBytesPerPeer`).
    public let messagesDropped = Atomic<Int>(0)
    /// Connections closed for a bad frame, a refused hello or a protocol error.
    public let connectionsRejected = Atomic<Int>(0)
    public let connectionsEstablished = Atomic<Int>(0)
    /// Requests sent to peers, and requests from peers this broker served.
    public let requestsSent = Atomic<Int>(0)
    public let requestsServed = Atomic<Int>(0)

    public init() {}

    static func add(_ counter: borrowing Atomic<Int>, _ amount: Int) {
        counter.wrappingAdd(amount, ordering: .relaxed)
    }
}
