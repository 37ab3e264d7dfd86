import NIOCore
import NIOPosix

extension SpoolClient {
    /// The default per-address connect timeout of `connect(to:)` and `ReconnectPolicy`: long
    /// enough for a slow network, short enough that one dead (silent) address of a list does not
    /// hold up the others for long. NATS's client uses 2 s, Kafka's 10 s.
    public static let defaultConnectTimeout: Duration = .seconds(5)

    /// Connects to the first address of `addresses` that answers, tried one at a time in `order`
    /// (as listed by default), each for at most `connectTimeout`. Like Kafka's
    /// `bootstrap.servers` and NATS's server list: the list says where brokers may be, and any one
    /// of them will do. Throws `BrokersUnreachable`, naming every address tried and why it failed,
    /// when none answers; `SpoolClientError.invalidArgument` for an empty list.
    ///
    /// The client is bound to the broker that answered (`address`). When that connection is lost,
    /// use `SpoolConnection` (or call this again) to move to another one.
    public static func connect(
        to addresses: [ServerAddress], order: AddressOrder = .listed, connectTimeout: Duration = defaultConnectTimeout,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> SpoolClient {
        guard !addresses.isEmpty else { throw SpoolClientError.invalidArgument("no broker address given") }
        var attempts: [ConnectAttempt] = []
        for address in order.arrange(addresses) {
            do {
                return try await connect(host: address.host, port: address.port, connectTimeout: connectTimeout, group: group)
            } catch {
                try Task.checkCancellation()
                attempts.append(ConnectAttempt(address: address, reason: ConnectAttempt.reason(error)))
            }
        }
        throw BrokersUnreachable(attempts: attempts, rounds: 1)
    }

    /// `connect(to:)` with `host:port` strings; an entry that is not an address is `invalidArgument`.
    public static func connect(
        to addresses: [String], order: AddressOrder = .listed, connectTimeout: Duration = defaultConnectTimeout,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> SpoolClient {
        let parsed = try addresses.map { text in
            guard let address = ServerAddress(text) else { throw SpoolClientError.invalidArgument("not a HOST:PORT address: \(text)") }
            return address
        }
        return try await connect(to: parsed, order: order, connectTimeout: connectTimeout, group: group)
    }
}
