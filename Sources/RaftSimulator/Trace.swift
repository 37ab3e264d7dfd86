/// The last `capacity` events of a run (for the failure report) and a digest of all of them.
public struct Trace: Sendable {
    public struct Line: Sendable {
        public var tick: UInt64
        public var event: TraceEvent
    }

    public let capacity: Int
    private var ring: [Line] = []
    private var next = 0
    private var fingerprint = Fingerprint()
    public private(set) var eventCount = 0

    public init(capacity: Int) {
        precondition(capacity > 0, "trace capacity must be positive")
        self.capacity = capacity
        ring.reserveCapacity(capacity)
    }

    /// Digest of every event recorded so far, in order.
    public var digest: UInt64 { fingerprint.value }

    public mutating func record(_ event: TraceEvent, tick: UInt64) {
        fingerprint.mix(tick)
        event.mix(into: &fingerprint)
        eventCount += 1
        let line = Line(tick: tick, event: event)
        if ring.count < capacity {
            ring.append(line)
        } else {
            ring[next] = line
            next = (next + 1) % capacity
        }
    }

    /// The retained events, oldest first.
    public var lines: [Line] { Array(ring[next...] + ring[..<next]) }

    public func render() -> String {
        lines.map { "[t=\($0.tick)] \($0.event)" }.joined(separator: "\n")
    }
}
