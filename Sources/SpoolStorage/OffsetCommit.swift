import SpoolCore

/// A consumer group's committed position in one partition: the next offset it will read.
public struct OffsetCommit: Sendable, Equatable {
    public var group: String
    public var nextOffset: Offset
    public var generation: Int64
    public var member: String
    public var committedMs: Int64

    public init(group: String, nextOffset: Offset, generation: Int64, member: String, committedMs: Int64) {
        self.group = group
        self.nextOffset = nextOffset
        self.generation = generation
        self.member = member
        self.committedMs = committedMs
    }
}
