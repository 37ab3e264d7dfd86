/// One member of a consumer group, as the driver names it (for example `c17`, one per connection).
///
/// The coordinator never invents or parses ids; it only compares them. Ordering is by the string's
/// code points, which is what makes every action list and tie-break deterministic.
public struct MemberID: Hashable, Comparable, Sendable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let value: String

    public init(_ value: String) { self.value = value }
    public init(stringLiteral value: String) { self.value = value }

    public static func < (lhs: MemberID, rhs: MemberID) -> Bool { lhs.value < rhs.value }

    public var description: String { value }
}
