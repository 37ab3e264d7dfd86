/// Every limit the broker enforces, in one place, each named with its unit.
///
/// Defaults are documented in docs/protocol.md ("Limits"); `spoold --help` lists the flag that
/// sets each one. Breaking a limit gets an `ERR` for that request and never costs other clients
/// or stored data anything.
public struct SpoolLimits: Sendable, Equatable {
    public static let defaultTopicNameBytes = 249

    /// Longest request line, in bytes, excluding the line end. An inline `:` payload counts.
    public var lineBytes: Int = 64 * 1024
    /// Largest record value, in bytes (byte-counted or inline).
    public var payloadBytes: Int = 1024 * 1024
    /// Largest record key, in bytes.
    public var keyBytes: Int = 16 * 1024
    /// Most client connections open at once; one more is answered `ERR LIMIT_REACHED` and closed.
    public var connections: Int = 1024
    /// Most requests a connection may have waiting for their replies; past it the broker stops
    /// reading that socket until replies drain (pipelining is bounded, not refused).
    public var pendingRequestsPerConnection: Int = 1024
    /// Most records one `FETCH` returns (`max=` is capped to this).
    public var fetchRecords: Int = 10_000
    /// Most value bytes one `FETCH` returns; at least one record is always returned.
    public var fetchBytes: Int = 8 * 1024 * 1024
    /// Longest `wait=` of a `FETCH`, in milliseconds.
    public var fetchWaitMs: Int64 = 300_000
    /// Most partitions a topic may have.
    public var partitionsPerTopic: Int = 1024
    /// Most replicas a partition may have (`CREATE ... replication=`): the metadata log stores
    /// the count in a byte. A cluster bounds it further by its number of brokers.
    public static let maxReplication = 255
    /// Most topics a broker holds.
    public var topics: Int = 10_000
    /// Longest topic name, in bytes.
    public var topicNameBytes: Int = SpoolLimits.defaultTopicNameBytes
    /// Most records one group commit writes in one SQLite transaction.
    public var commitBatchRecords: Int = 10_000
    /// Most value bytes one group commit writes in one SQLite transaction.
    public var commitBatchBytes: Int = 16 * 1024 * 1024
    /// Most value bytes a subscription keeps in flight to one client per partition before it
    /// waits for the socket to drain.
    public var subscriptionBatchBytes: Int = 1024 * 1024

    /// A group member's session timeout when `SUB ... group=` gives no `session=`, in ms: a
    /// member whose connection shows no liveness for this long leaves its group.
    public var groupSessionTimeoutMs: Int64 = 30_000
    /// Longest `session=` a member may ask for, in ms.
    public var groupSessionTimeoutMaxMs: Int64 = 300_000
    /// How often `commit=auto` members' delivered offsets are committed, in ms.
    public var autoCommitIntervalMs: Int64 = 1_000
    /// Most consumer groups with live members on the broker.
    public var groups: Int = 10_000
    /// Longest time a partition's queued writes wait while another connection (an operator's
    /// `sqlite3` shell without `-readonly`) holds its file's write lock, in ms; then they fail
    /// with `ERR STORAGE`. Only that partition waits: no storage thread sleeps meanwhile.
    public var partitionLockWaitMs: Int64 = 30_000
    /// Longest wait between two attempts to recover a partition whose write failed (a failed
    /// COMMIT or fsync, a full disk), in ms. It stops taking writes (`ERR PARTITION_OFFLINE`) and
    /// reopens its file after 10 ms, then after twice as long each time, up to this.
    public var writeRecoveryRetryMs: Int64 = 5_000
    /// Longest wait of a request that needs a leader or a quorum (a cluster's `CREATE`, `DROP`),
    /// in ms: past it the request answers `ERR UNAVAILABLE` (no leader, or no quorum, in time).
    public var requestTimeoutMs: Int64 = 10_000

    /// Most record bytes (keys and values) one connection may have handed to group commit and not
    /// yet seen written, for every `acks` setting (`acks=none` too); past it the broker stops
    /// reading that socket until they are written.
    public var queuedBytesPerConnection: Int = 16 * 1024 * 1024
    /// Most record bytes waiting for one partition's next group commit; past it the broker stops
    /// reading each socket that publishes to that partition until the queue drains.
    public var queuedBytesPerPartition: Int = 64 * 1024 * 1024
    /// A connection that receives nothing for this long while it waits for nothing (no request in
    /// flight, no subscription, no group membership) is closed, in ms; 0 (the default) never
    /// closes idle connections, as Redis (`timeout 0`) and beanstalkd do.
    public var idleTimeoutMs: Int64 = 0
    /// Longest time from the first byte of a request to its last (line and payload), in ms; a
    /// slower request gets `ERR TIMEOUT` and the connection is closed. 0 turns it off.
    public var partialRequestTimeoutMs: Int64 = 60_000
    /// Most connections open at once from one client IP address; one more is answered
    /// `ERR LIMIT_REACHED` and closed. 0 (the default) sets no cap below `connections`.
    public var connectionsPerAddress: Int = 0

    public init() {}
}
