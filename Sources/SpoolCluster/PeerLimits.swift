/// Bounds on what a peer frame may claim, checked before any allocation it would cause, so a
/// broken or hostile peer can cost at most one closed connection.
public struct PeerLimits: Hashable, Sendable {
    /// Largest frame body accepted, in bytes. Must exceed Raft's `maxBytesPerAppend` (1 MiB by
    /// default) times the appends coalesced into one frame, and a snapshot chunk.
    public var frameBytes: Int
    /// Most Raft messages in one frame.
    public var messagesPerFrame: Int
    /// Most entries in one Raft message.
    public var entriesPerMessage: Int
    /// Longest string field (cluster id, address, refusal reason), in bytes.
    public var stringBytes: Int
    /// Most voters a snapshot may list.
    public var votersPerSnapshot: Int

    public init(
        frameBytes: Int = 32 * 1024 * 1024, messagesPerFrame: Int = 65_536, entriesPerMessage: Int = 65_536,
        stringBytes: Int = 1024, votersPerSnapshot: Int = 64
    ) {
        self.frameBytes = frameBytes
        self.messagesPerFrame = messagesPerFrame
        self.entriesPerMessage = entriesPerMessage
        self.stringBytes = stringBytes
        self.votersPerSnapshot = votersPerSnapshot
    }

    /// The fixed header in front of every body: length and checksum, in bytes.
    public static let headerBytes = 8
}

/// Why a peer's bytes were not accepted. Each closes the connection (with this logged); none can
/// reach a replica's storage.
public enum PeerFrameError: Error, Hashable, Sendable, CustomStringConvertible {
    case frameTooLarge(bytes: Int, limit: Int)
    case checksumMismatch(expected: UInt32, computed: UInt32)
    case unknownKind(UInt8)
    /// The body does not parse: truncated, a count over its limit, an unknown enum value, or
    /// bytes left over.
    case malformed(String)

    public var description: String {
        switch self {
        case .frameTooLarge(let bytes, let limit): "frame of \(bytes) bytes is over the limit of \(limit)"
        case .checksumMismatch(let expected, let computed):
            "checksum mismatch: frame says \(String(expected, radix: 16)), body has \(String(computed, radix: 16))"
        case .unknownKind(let kind): "unknown frame kind \(kind)"
        case .malformed(let why): "malformed frame: \(why)"
        }
    }
}
