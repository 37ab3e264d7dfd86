import ArgumentParser
import SpoolCore

/// One flag per `SpoolLimits` field; the defaults are SpoolLimits' own.
struct LimitOptions: ParsableArguments {
    private static let defaults = SpoolLimits()

    @Option(help: "Longest request line in bytes (inline payload included).")
    var lineBytes = defaults.lineBytes
    @Option(help: "Largest record value in bytes.")
    var payloadBytes = defaults.payloadBytes
    @Option(help: "Largest record key in bytes.")
    var keyBytes = defaults.keyBytes
    @Option(help: "Most client connections at once.")
    var maxConnections = defaults.connections
    @Option(help: "Most requests awaiting replies per connection before the broker stops reading it.")
    var pendingRequests = defaults.pendingRequestsPerConnection
    @Option(help: "Most records one FETCH returns.")
    var fetchRecords = defaults.fetchRecords
    @Option(help: "Most value bytes one FETCH returns (at least one record is always returned).")
    var fetchBytes = defaults.fetchBytes
    @Option(help: "Longest FETCH wait= in milliseconds.")
    var fetchWaitMs = defaults.fetchWaitMs
    @Option(help: "Most partitions per topic.")
    var partitionsPerTopic = defaults.partitionsPerTopic
    @Option(help: "Most topics on the broker.")
    var maxTopics = defaults.topics
    @Option(help: "Longest topic name in bytes.")
    var topicNameBytes = defaults.topicNameBytes
    @Option(help: "Most records in one group-commit transaction.")
    var commitBatchRecords = defaults.commitBatchRecords
    @Option(help: "Most value bytes in one group-commit transaction.")
    var commitBatchBytes = defaults.commitBatchBytes
    @Option(help: "Most bytes a subscription keeps in flight per partition before waiting for the client.")
    var subscriptionBatchBytes = defaults.subscriptionBatchBytes

    @Option(help: "Default session timeout of a consumer-group member, in ms.")
    var groupSessionTimeoutMs = defaults.groupSessionTimeoutMs
    @Option(help: "Longest session= a group member may ask for, in ms.")
    var groupSessionTimeoutMaxMs = defaults.groupSessionTimeoutMaxMs
    @Option(help: "How often commit=auto members' delivered offsets are committed, in ms.")
    var autoCommitIntervalMs = defaults.autoCommitIntervalMs
    @Option(help: "Most consumer groups with live members.")
    var maxGroups = defaults.groups
    @Option(help: "Longest wait of a partition's writes while another connection holds its write lock, in ms.")
    var partitionLockWaitMs = defaults.partitionLockWaitMs
    @Option(help: "Longest wait between two attempts to recover a partition whose write failed, in ms.")
    var writeRecoveryRetryMs = defaults.writeRecoveryRetryMs
    @Option(help: "Longest wait of a request that needs a leader or a quorum (CREATE, DROP in a cluster), in ms; then ERR UNAVAILABLE.")
    var requestTimeoutMs = defaults.requestTimeoutMs
    @Option(help: "Most record bytes one connection may have queued for group commit before the broker stops reading it.")
    var queuedBytesPerConnection = defaults.queuedBytesPerConnection
    @Option(help: "Most record bytes queued for one partition's group commit before its producers stop being read.")
    var queuedBytesPerPartition = defaults.queuedBytesPerPartition
    @Option(help: "Close a connection that waits for nothing and sends nothing for this long, in ms (0: never).")
    var idleTimeoutMs = defaults.idleTimeoutMs
    @Option(help: "Longest time a request may take to arrive, first byte to last, in ms (0: no limit).")
    var partialRequestTimeoutMs = defaults.partialRequestTimeoutMs
    @Option(help: "Most connections at once from one client IP address (0: no cap below --max-connections).")
    var maxConnectionsPerAddress = defaults.connectionsPerAddress

    func validate() throws {
        let positives: [(String, Int)] = [
            ("--line-bytes", lineBytes), ("--payload-bytes", payloadBytes), ("--key-bytes", keyBytes),
            ("--max-connections", maxConnections), ("--pending-requests", pendingRequests),
            ("--fetch-records", fetchRecords), ("--fetch-bytes", fetchBytes), ("--partitions-per-topic", partitionsPerTopic),
            ("--max-topics", maxTopics), ("--topic-name-bytes", topicNameBytes), ("--commit-batch-records", commitBatchRecords),
            ("--commit-batch-bytes", commitBatchBytes), ("--subscription-batch-bytes", subscriptionBatchBytes),
            ("--queued-bytes-per-connection", queuedBytesPerConnection), ("--queued-bytes-per-partition", queuedBytesPerPartition),
        ]
        for (flag, value) in positives where value < 1 {
            throw ValidationError("\(flag) must be at least 1")
        }
        guard groupSessionTimeoutMs >= 1000, groupSessionTimeoutMaxMs >= groupSessionTimeoutMs else {
            throw ValidationError("--group-session-timeout-ms must be at least 1000 and at most --group-session-timeout-max-ms")
        }
        guard autoCommitIntervalMs >= 10, maxGroups >= 1 else {
            throw ValidationError("--auto-commit-interval-ms must be at least 10 and --max-groups at least 1")
        }
        guard partitionLockWaitMs >= 0 else { throw ValidationError("--partition-lock-wait-ms must be at least 0") }
        guard writeRecoveryRetryMs >= 10 else { throw ValidationError("--write-recovery-retry-ms must be at least 10") }
        guard requestTimeoutMs >= 100 else { throw ValidationError("--request-timeout-ms must be at least 100") }
        guard idleTimeoutMs >= 0, partialRequestTimeoutMs >= 0, maxConnectionsPerAddress >= 0 else {
            throw ValidationError(
                "--idle-timeout-ms, --partial-request-timeout-ms and --max-connections-per-address must be at least 0 (0 turns them off)")
        }
        guard fetchWaitMs >= 0 else { throw ValidationError("--fetch-wait-ms must be at least 0") }
        guard topicNameBytes <= 249 else { throw ValidationError("--topic-name-bytes is at most 249 (a folder name)") }
    }

    var spoolLimits: SpoolLimits {
        var limits = SpoolLimits()
        limits.lineBytes = lineBytes
        limits.payloadBytes = payloadBytes
        limits.keyBytes = keyBytes
        limits.connections = maxConnections
        limits.pendingRequestsPerConnection = pendingRequests
        limits.fetchRecords = fetchRecords
        limits.fetchBytes = fetchBytes
        limits.fetchWaitMs = fetchWaitMs
        limits.partitionsPerTopic = partitionsPerTopic
        limits.topics = maxTopics
        limits.topicNameBytes = topicNameBytes
        limits.commitBatchRecords = commitBatchRecords
        limits.commitBatchBytes = commitBatchBytes
        limits.subscriptionBatchBytes = subscriptionBatchBytes
        limits.groupSessionTimeoutMs = groupSessionTimeoutMs
        limits.groupSessionTimeoutMaxMs = groupSessionTimeoutMaxMs
        limits.autoCommitIntervalMs = autoCommitIntervalMs
        limits.groups = maxGroups
        limits.partitionLockWaitMs = partitionLockWaitMs
        limits.writeRecoveryRetryMs = writeRecoveryRetryMs
        limits.requestTimeoutMs = requestTimeoutMs
        limits.queuedBytesPerConnection = queuedBytesPerConnection
        limits.queuedBytesPerPartition = queuedBytesPerPartition
        limits.idleTimeoutMs = idleTimeoutMs
        limits.partialRequestTimeoutMs = partialRequestTimeoutMs
        limits.connectionsPerAddress = maxConnectionsPerAddress
        return limits
    }
}
