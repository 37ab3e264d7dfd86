import SpoolCore

/// Everything a `GROUP <g>` command shows, sorted so that it renders the same way every time.
/// `GroupInvariants` checks a snapshot, so tests can also check hand-built ones.
public struct GroupSnapshot: Sendable, Equatable {
    /// A topic some member subscribes to, with the partition count the group knows for it.
    public struct Topic: Sendable, Equatable {
        public var name: TopicName
        public var partitionCount: Int

        public init(name: TopicName, partitionCount: Int) {
            self.name = name
            self.partitionCount = partitionCount
        }
    }

    public var name: GroupName
    public var generation: Generation
    /// Members by id.
    public var members: [MemberSnapshot]
    /// Subscribed topics by name.
    public var topics: [Topic]
    /// Partitions being moved, by partition.
    public var pendingMoves: [PendingMove]

    public init(name: GroupName, generation: Generation, members: [MemberSnapshot], topics: [Topic], pendingMoves: [PendingMove]) {
        self.name = name
        self.generation = generation
        self.members = members
        self.topics = topics
        self.pendingMoves = pendingMoves
    }
}
