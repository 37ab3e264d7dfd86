/// A validated consumer group name.
///
/// The same rule as `TopicName` (1 to 249 bytes of `[a-zA-Z0-9._-]`, and not `.` or `..`), so a
/// group name is safe wherever a topic name is: a protocol token, a SQL value, a file name.
public struct GroupName: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let value: String

    /// Returns nil when `text` is not a legal group name.
    public init?(_ text: String, maxBytes: Int = SpoolLimits.defaultTopicNameBytes) {
        guard TopicName(text, maxBytes: maxBytes) != nil else { return nil }
        self.value = text
    }

    public static func < (lhs: GroupName, rhs: GroupName) -> Bool { lhs.value < rhs.value }

    public var description: String { value }
}
