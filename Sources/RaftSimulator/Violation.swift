/// A broken invariant, with the tick it was detected at and a human-readable explanation.
public struct Violation: Sendable, Hashable, CustomStringConvertible {
    public var invariant: Invariant
    public var tick: UInt64
    public var detail: String

    public init(invariant: Invariant, tick: UInt64, detail: String) {
        self.invariant = invariant
        self.tick = tick
        self.detail = detail
    }

    public var description: String { "tick \(tick): VIOLATION of \(invariant.rawValue): \(detail)" }
}
