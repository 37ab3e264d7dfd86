/// Milliseconds since the Unix epoch (UTC), as Kafka records them.
public struct TimestampMs: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int64

    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ value: Int64) { self.rawValue = value }

    public static func < (lhs: TimestampMs, rhs: TimestampMs) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { String(rawValue) }
}
