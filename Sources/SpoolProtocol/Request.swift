import NIOCore
import SpoolCore

/// `PUB <topic> [key=<k>] [partition=<p>] [acks=none|leader|all|0|1|-1] (:<text> | <nbytes>)`
///
/// `RequestParser` makes `value` (and a raw `key`) slices of its input buffer, not copies.
public struct PublishRequest: Equatable, Sendable {
    public var topic: TopicName
    /// The key's bytes (after `base64:` decoding); nil when the record has no key.
    public var key: ByteBuffer?
    /// An explicit partition; nil lets the partitioner choose (murmur2 of the key, or spread).
    public var partition: PartitionID?
    public var acks: Acks
    /// The value's bytes: the inline text after `:`, or exactly `nbytes` bytes.
    public var value: ByteBuffer

    public init(topic: TopicName, key: ByteBuffer? = nil, partition: PartitionID? = nil, acks: Acks = .all, value: ByteBuffer) {
        self.topic = topic
        self.key = key
        self.partition = partition
        self.acks = acks
        self.value = value
    }
}

/// `FETCH <topic> <partition> <offset|earliest|latest> [max=<n>] [wait=<ms>]`
public struct FetchRequest: Equatable, Sendable {
    public var topic: TopicName
    public var partition: PartitionID
    public var start: StartPosition
    /// Most records to return; nil means the broker's `fetchRecords` limit.
    public var maxRecords: Int?
    /// How long to wait for a first record when none is available, in milliseconds; 0 = no wait.
    public var waitMs: Int64

    public init(topic: TopicName, partition: PartitionID, start: StartPosition, maxRecords: Int? = nil, waitMs: Int64 = 0) {
        self.topic = topic
        self.partition = partition
        self.start = start
        self.maxRecords = maxRecords
        self.waitMs = waitMs
    }
}

/// `SUB <topic>[,<topic>...] group=<g> [from=earliest|latest] [commit=auto|manual] [session=<ms>]`
public struct GroupSubscribeRequest: Equatable, Sendable {
    /// The subscribed topics, sorted, without repeats.
    public var topics: [TopicName]
    /// The consumer group (same characters as a topic name).
    public var group: GroupName
    /// Where to start in a partition the group never committed in: `.earliest` or `.latest`.
    public var from: StartPosition
    /// true (`commit=auto`, the default): the broker commits delivered offsets every
    /// `autoCommitIntervalMs`, on revocation and on a clean leave.
    public var autoCommit: Bool
    /// How long the member may show no liveness before the group drops it; nil = the broker default.
    public var sessionTimeoutMs: Int64?

    public init(topics: [TopicName], group: GroupName, from: StartPosition = .latest, autoCommit: Bool = true, sessionTimeoutMs: Int64? = nil) {
        self.topics = topics
        self.group = group
        self.from = from
        self.autoCommit = autoCommit
        self.sessionTimeoutMs = sessionTimeoutMs
    }
}

/// One parsed request line (with its payload, for `PUB`).
public enum Request: Equatable, Sendable {
    /// `PING`
    case ping
    /// `CREATE <topic> [partitions=N] [replication=R]` (N defaults to 1; R to the broker's
    /// default: 1 on a single broker, 3 or the cluster's size when smaller)
    case create(topic: TopicName, partitions: Int, replication: Int?)
    /// `TOPICS`
    case topics
    /// `DESCRIBE <topic>`
    case describe(TopicName)
    /// `DROP <topic>`
    case drop(TopicName)
    /// `PUB ...`
    case publish(PublishRequest)
    /// `FETCH ...`
    case fetch(FetchRequest)
    /// `OFFSETS <topic> <partition> [time=<ms>]`
    case offsets(topic: TopicName, partition: PartitionID, time: TimestampMs?)
    /// `SUB <topic> [from=earliest|latest|<offset>]` (from defaults to latest)
    case subscribe(topic: TopicName, from: StartPosition)
    /// `SUB <topics> group=<g> ...`: join a consumer group
    case subscribeGroup(GroupSubscribeRequest)
    /// `COMMIT <topic> <partition> <offset>`: the group's next offset to read in that partition
    case commit(topic: TopicName, partition: PartitionID, offset: Offset)
    /// `GROUPS`
    case groups
    /// `GROUP <group>`
    case group(GroupName)
    /// `UNSUB [<topic>]` (no topic: every subscription of the connection, and its group)
    case unsubscribe(TopicName?)
    /// `HELP [<command>]`
    case help(command: String?)
    /// `STATS`
    case stats
    /// `QUIT`
    case quit
    /// `METADATA [<topic>]`: the brokers and where each partition's replicas are (nil: every topic)
    case metadata(TopicName?)
    /// `VERIFY <topic> [<partition>]`: every replica's checksum of its committed records (nil: every partition)
    case verify(TopicName, PartitionID?)

    /// The command word, upper case, for logs and metrics.
    public var verb: String {
        switch self {
        case .ping: "PING"
        case .create: "CREATE"
        case .topics: "TOPICS"
        case .describe: "DESCRIBE"
        case .drop: "DROP"
        case .publish: "PUB"
        case .fetch: "FETCH"
        case .offsets: "OFFSETS"
        case .subscribe, .subscribeGroup: "SUB"
        case .commit: "COMMIT"
        case .groups: "GROUPS"
        case .group: "GROUP"
        case .unsubscribe: "UNSUB"
        case .help: "HELP"
        case .stats: "STATS"
        case .quit: "QUIT"
        case .metadata: "METADATA"
        case .verify: "VERIFY"
        }
    }
}
