/// A validated topic name.
///
/// Kafka's rule, so names move between the two systems: 1 to `SpoolLimits.topicNameBytes`
/// characters from `[a-zA-Z0-9._-]`, and not `.` or `..` (the name is also a folder name).
public struct TopicName: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let value: String

    /// Returns nil when `text` is not a legal topic name.
    public init?(_ text: String, maxBytes: Int = SpoolLimits.defaultTopicNameBytes) {
        guard !text.isEmpty, text.utf8.count <= maxBytes, text != ".", text != ".." else { return nil }
        for byte in text.utf8 {
            guard TopicName.isLegal(byte) else { return nil }
        }
        self.value = text
    }

    /// `[a-zA-Z0-9._-]`
    @inlinable
    public static func isLegal(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    public static func < (lhs: TopicName, rhs: TopicName) -> Bool { lhs.value < rhs.value }

    public var description: String { value }
}
