/// How `SpoolConnection.reconnect` looks for a broker after the connection was lost: `rounds`
/// passes over the address list, each address given `connectTimeout`, with a back-off between
/// passes that starts at `initialDelay` and doubles up to `maxDelay` (Kafka's
/// `reconnect.backoff.ms` / `reconnect.backoff.max.ms`). Bounded: after the last round the
/// reconnect fails, so a caller never waits forever on a cluster that is gone.
///
/// With the default (20 rounds, 100 ms doubling to 2 s) a client keeps looking for about 31 s
/// plus the connect attempts, enough for a broker to restart on its data folder.
public struct ReconnectPolicy: Sendable, Equatable {
    /// Passes over the whole address list before giving up, at least 1.
    public var rounds: Int
    public var initialDelay: Duration
    public var maxDelay: Duration
    /// Per address and attempt.
    public var connectTimeout: Duration

    public static let `default` = ReconnectPolicy(
        rounds: 20, initialDelay: .milliseconds(100), maxDelay: .seconds(2), connectTimeout: SpoolClient.defaultConnectTimeout)

    public init(rounds: Int, initialDelay: Duration, maxDelay: Duration, connectTimeout: Duration) {
        precondition(rounds >= 1, "at least one round")
        precondition(initialDelay >= .zero && maxDelay >= initialDelay, "delays must be 0 <= initial <= max")
        self.rounds = rounds
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.connectTimeout = connectTimeout
    }

    /// The pause after failed round `round` (0-based): `initialDelay * 2^round`, at most `maxDelay`.
    public func delay(afterRound round: Int) -> Duration {
        precondition(round >= 0)
        var delay = initialDelay
        for _ in 0..<min(round, 62) {
            delay = delay * 2
            if delay >= maxDelay { return maxDelay }
        }
        return min(delay, maxDelay)
    }

    /// The order to try `addresses` after losing `lost`: the ones after it first, wrapping
    /// around, `lost` itself last. The broker that just died is the least likely to answer, and
    /// moving along the list spreads clients that lose the same broker over the rest.
    public static func order(after lost: ServerAddress?, in addresses: [ServerAddress]) -> [ServerAddress] {
        guard let lost, let index = addresses.firstIndex(of: lost) else { return addresses }
        return Array(addresses[(index + 1)...] + addresses[...index])
    }
}
