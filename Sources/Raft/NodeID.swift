/// Identifies one member of a Raft group. `NodeID.none` (0) means "no node" (no leader, no vote).
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public let rawValue: UInt64

    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt64) { self.rawValue = value }

    /// The absence of a node: no leader known, no vote cast.
    public static let none = NodeID(0)

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { self == .none ? "-" : "n\(rawValue)" }
}
