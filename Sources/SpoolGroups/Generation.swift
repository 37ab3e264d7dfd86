/// A group's generation: 0 before anyone joined, one more for every rebalance. A rebalance follows
/// each change of the group: a member joins, changes its subscription, leaves or expires, or a
/// subscribed topic's partition count changes. Members expiring in the same `tick` are one
/// rebalance; heartbeats and completed revocations change no generation.
///
/// Actions carry the generation they were computed in, so a client can tell an old assignment
/// from a new one (`ASSIGNED ... generation=7`).
public struct Generation: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int64

    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ value: Int64) { self.rawValue = value }

    /// The generation of a group nobody has joined yet.
    public static let initial = Generation(0)

    /// The generation after this one.
    public var next: Generation { Generation(rawValue + 1) }

    public static func < (lhs: Generation, rhs: Generation) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { String(rawValue) }
}
