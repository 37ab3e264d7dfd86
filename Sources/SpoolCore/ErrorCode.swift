/// The closed list of error codes that go on the wire as `ERR <CODE> <message>`.
///
/// docs/protocol.md documents every code; a test checks the two lists agree. Adding a code is a
/// protocol change: clients switch on these words.
public enum ErrorCode: String, Sendable, CaseIterable {
    /// The line is not a request: empty command word, stray payload marker, bad byte count.
    case badRequest = "BAD_REQUEST"
    /// The command word is not one the broker knows.
    case unknownCommand = "UNKNOWN_COMMAND"
    /// An argument or option is missing, unknown, repeated or out of range.
    case badArgument = "BAD_ARGUMENT"
    /// The topic does not exist.
    case unknownTopic = "UNKNOWN_TOPIC"
    /// `CREATE` of a topic that already exists.
    case topicExists = "TOPIC_EXISTS"
    /// The partition number is outside `0 ..< partitions`.
    case unknownPartition = "UNKNOWN_PARTITION"
    /// The offset is before the earliest retained record or after the latest.
    case offsetOutOfRange = "OFFSET_OUT_OF_RANGE"
    /// A request line longer than `lineBytes`. The connection is closed after this reply.
    case lineTooLong = "LINE_TOO_LONG"
    /// A payload larger than `payloadBytes`. Its bytes are skipped; the connection stays usable.
    case payloadTooLarge = "PAYLOAD_TOO_LARGE"
    /// A byte-counted payload was not followed by a line end. The connection is closed.
    case badPayload = "BAD_PAYLOAD"
    /// A configured limit (connections, topics, partitions) is reached.
    case limitReached = "LIMIT_REACHED"
    /// `COMMIT` of a partition this connection's group member does not own (not a member, not
    /// assigned, or revoked since).
    case notAssigned = "NOT_ASSIGNED"
    /// The command is not allowed on a connection with an active subscription.
    case subscribed = "SUBSCRIBED"
    /// The broker could not read or write its files (disk full, I/O error).
    case storage = "STORAGE"
    /// The broker is shutting down and takes no new work.
    case shuttingDown = "SHUTTING_DOWN"
    /// The partition is out of service: its file is lost (missing or empty) or damaged. Other
    /// partitions keep serving; the broker's log names the file.
    case partitionOffline = "PARTITION_OFFLINE"
    /// A request took longer than `partialRequestTimeoutMs` to arrive, or the connection was idle
    /// past `idleTimeoutMs`. The connection is closed after this line.
    case timeout = "TIMEOUT"
    /// No leader or no quorum within the request timeout (a cluster that cannot commit now). Until
    /// replication is wired in, `CREATE` in a cluster of more than one broker answers it too.
    case unavailable = "UNAVAILABLE"

    /// The word on the wire.
    public var wire: String { rawValue }
}

/// An error that is answered with `ERR <code> <message>`, never a crash.
public struct SpoolError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.wire) \(message)" }
}
