/// Why the coordinator removed a member on its own (a member that leaves is not told: the driver
/// asked for it).
public enum RemovalReason: String, Sendable, Equatable, CustomStringConvertible {
    /// No join or heartbeat for longer than the member's session timeout.
    case sessionExpired = "session_expired"

    public var description: String { rawValue }
}
