import NIOCore
import NIOPosix

/// A connection to "some broker of this list" that can move to another broker when its broker
/// goes away: the failover half of a multi-address client (NATS's reconnecting connection,
/// Kafka's bootstrap list).
///
/// It never retries a call by itself. A call in flight when the connection drops fails with
/// `SpoolClientError.connectionClosed`, and the caller decides what that means:
///
/// - A `PUB` that failed so **may or may not have been stored**: the broker may have written it
///   and died before answering. Sending it again may store it twice. Count it as "outcome
///   unknown" (as `spool produce` does), or check the partition, before resending; an idempotent
///   producer (Kafka's producer ids and sequence numbers) is the later fix.
/// - Reads (`FETCH`, `OFFSETS`, `DESCRIBE`, ...) are safe to send again on the new connection.
/// - Subscriptions and group membership belong to a connection and end with it: after a
///   reconnect the caller subscribes again (`subscribe(topic:from:)` from the offset after the
///   last record it processed; a group member joins its group again and resumes at the group's
///   committed offsets). Records still buffered in the old client's `deliveries` can be drained.
///
/// ```swift
/// let connection = try await SpoolConnection.connect(to: ["10.0.0.1:7070", "10.0.0.2:7070"])
/// var client = try await connection.client
/// while true {
///     do { try await work(client); break }
///     catch SpoolClientError.connectionClosed { client = try await connection.reconnect(replacing: client) }
/// }
/// ```
public actor SpoolConnection {
    /// Every address this connection may use, in the order given.
    public nonisolated let addresses: [ServerAddress]
    public nonisolated let policy: ReconnectPolicy
    private let group: EventLoopGroup
    private var current: SpoolClient
    private var pending: Task<SpoolClient, any Error>?
    /// How many times the connection moved (or reconnected) to a broker after a loss.
    public private(set) var reconnects = 0

    private init(addresses: [ServerAddress], policy: ReconnectPolicy, group: EventLoopGroup, current: SpoolClient) {
        self.addresses = addresses
        self.policy = policy
        self.group = group
        self.current = current
    }

    /// Connects to the first address that answers (`SpoolClient.connect(to:order:)`: one pass,
    /// `BrokersUnreachable` when none does). A start-up failure is reported at once rather than
    /// retried: it is more often a wrong address than a broker restarting.
    public static func connect(
        to addresses: [ServerAddress], order: AddressOrder = .listed, policy: ReconnectPolicy = .default,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> SpoolConnection {
        let arranged = order.arrange(addresses)
        let client = try await SpoolClient.connect(to: arranged, connectTimeout: policy.connectTimeout, group: group)
        return SpoolConnection(addresses: arranged, policy: policy, group: group, current: client)
    }

    /// `connect(to:)` with `host:port` strings.
    public static func connect(
        to addresses: [String], order: AddressOrder = .listed, policy: ReconnectPolicy = .default,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> SpoolConnection {
        let parsed = try addresses.map { text in
            guard let address = ServerAddress(text) else { throw SpoolClientError.invalidArgument("not a HOST:PORT address: \(text)") }
            return address
        }
        return try await connect(to: parsed, order: order, policy: policy, group: group)
    }

    /// The client in use (it may have lost its connection; see `SpoolClient.isConnected`).
    public var client: SpoolClient { current }

    /// Moves to a broker that answers, trying the addresses after the lost one first (see
    /// `ReconnectPolicy.order(after:in:)`), for at most `policy.rounds` passes with back-off in
    /// between; throws `BrokersUnreachable` (the last pass's attempts) when none answered.
    ///
    /// `replacing` is the client the caller saw fail. When several tasks see the same loss, the
    /// first one reconnects and the others get its new client instead of reconnecting again; a
    /// reconnect already under way is shared. Without `replacing`, the current client is closed
    /// and replaced even if it still works (e.g. to leave a broker that answers `SHUTTING_DOWN`).
    @discardableResult
    public func reconnect(replacing lost: SpoolClient? = nil) async throws -> SpoolClient {
        if let pending { return try await pending.value }
        if let lost, lost !== current, current.isConnected { return current }
        let old = current
        let task = Task { [addresses, policy, group] in
            await old.close()
            return try await Self.findBroker(order: ReconnectPolicy.order(after: old.address, in: addresses), policy: policy, group: group)
        }
        pending = task
        defer { pending = nil }
        let client = try await task.value
        current = client
        reconnects += 1
        return client
    }

    /// Closes the current client. A later `reconnect()` may still open a new one.
    public func close() async {
        await current.close()
    }

    private static func findBroker(order: [ServerAddress], policy: ReconnectPolicy, group: EventLoopGroup) async throws -> SpoolClient {
        var round = 0
        while true {
            do {
                return try await SpoolClient.connect(to: order, connectTimeout: policy.connectTimeout, group: group)
            } catch let unreachable as BrokersUnreachable {
                round += 1
                guard round < policy.rounds else { throw BrokersUnreachable(attempts: unreachable.attempts, rounds: round) }
                try await Task.sleep(for: policy.delay(afterRound: round - 1))
            }
        }
    }
}
