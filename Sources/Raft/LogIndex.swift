/// A position in the Raft log. Index 0 is the empty log's sentinel; the first entry is at index 1.
public struct LogIndex: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public let rawValue: UInt64

    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt64) { self.rawValue = value }

    public static let zero = LogIndex(0)

    public static func < (lhs: LogIndex, rhs: LogIndex) -> Bool { lhs.rawValue < rhs.rawValue }

    public static func + (lhs: LogIndex, rhs: Int) -> LogIndex {
        precondition(rhs >= 0, "LogIndex + negative count")
        return LogIndex(lhs.rawValue + UInt64(rhs))
    }

    public static func - (lhs: LogIndex, rhs: Int) -> LogIndex {
        precondition(rhs >= 0 && lhs.rawValue >= UInt64(rhs), "LogIndex underflow")
        return LogIndex(lhs.rawValue - UInt64(rhs))
    }

    /// Number of entries in `[from, self)`; `self` must not precede `from`.
    public func distance(from start: LogIndex) -> Int {
        precondition(rawValue >= start.rawValue, "LogIndex distance is negative")
        return Int(rawValue - start.rawValue)
    }

    public var description: String { "i\(rawValue)" }
}
