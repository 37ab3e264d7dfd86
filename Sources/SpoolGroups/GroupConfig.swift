/// Settings of one group coordinator. Every duration is in milliseconds of the driver's clock
/// (the `now` it passes in); the coordinator never reads a clock itself.
public struct GroupConfig: Sendable, Equatable {
    /// How long a revoked partition may stay with its old owner waiting for the driver's
    /// `revocationCompleted`. Past it, the next `tick` forces the revocation and assigns the
    /// partition to its new owner, so one stuck member cannot hold a partition forever.
    public var revocationTimeoutMs: Int64 = 10_000
    /// Smallest session timeout a member gets; a smaller requested value is raised to this.
    /// The driver should answer an out-of-range request with `ERR BAD_ARGUMENT` before joining.
    public var sessionTimeoutMinMs: Int64 = 1
    /// Largest session timeout a member gets (Kafka's `group.max.session.timeout.ms` default);
    /// a larger requested value is lowered to this.
    public var sessionTimeoutMaxMs: Int64 = 1_800_000

    public init() {}

    public init(revocationTimeoutMs: Int64, sessionTimeoutMinMs: Int64 = 1, sessionTimeoutMaxMs: Int64 = 1_800_000) {
        self.revocationTimeoutMs = revocationTimeoutMs
        self.sessionTimeoutMinMs = sessionTimeoutMinMs
        self.sessionTimeoutMaxMs = sessionTimeoutMaxMs
    }

    /// `requestedMs` clamped into `sessionTimeoutMinMs ... sessionTimeoutMaxMs`.
    func clampedSessionTimeoutMs(_ requestedMs: Int64) -> Int64 {
        min(max(requestedMs, sessionTimeoutMinMs), sessionTimeoutMaxMs)
    }

    func validate() {
        precondition(revocationTimeoutMs >= 0, "GroupConfig.revocationTimeoutMs must not be negative")
        precondition(sessionTimeoutMinMs > 0, "GroupConfig.sessionTimeoutMinMs must be positive")
        precondition(sessionTimeoutMaxMs >= sessionTimeoutMinMs,
                     "GroupConfig.sessionTimeoutMaxMs must be at least sessionTimeoutMinMs")
    }
}
