import Logging
import NIOCore
import NIOPosix
import SpoolCore
import SpoolEngine

/// The TCP listener: accepts connections and gives each a `ConnectionHandler` over the broker.
public final class SpoolServer: Sendable {
    public let config: ServerConfig
    public let broker: Broker
    private let group: MultiThreadedEventLoopGroup
    /// False when the caller lent the group (tests share one among many servers).
    private let ownsGroup: Bool
    private let channel: Channel
    private let logger: Logger
    private let startedNs: UInt64

    /// The address actually bound (with the real port when the config asked for 0).
    public var localAddress: SocketAddress? { channel.localAddress }

    private let groups: GroupManager
    /// Serves what other brokers forward here (`PeerService.command`); the peer transport's
    /// request handler hands it every such request.
    public let forwardedCommands: ForwardedCommandServer

    private init(
        config: ServerConfig, broker: Broker, groups: GroupManager, group: MultiThreadedEventLoopGroup, ownsGroup: Bool, channel: Channel, logger: Logger,
        startedNs: UInt64
    ) {
        self.config = config
        self.broker = broker
        self.groups = groups
        self.forwardedCommands = ForwardedCommandServer(broker: broker, groups: groups, eventLoop: group.next(), limits: broker.config.limits)
        self.group = group
        self.ownsGroup = ownsGroup
        self.channel = channel
        self.logger = logger
        self.startedNs = startedNs
    }

    /// Binds and starts accepting. The broker must be open; the server does not own it.
    /// With `eventLoopGroup`, the server runs on that group (and leaves it running when it shuts
    /// down) instead of starting `networkThreads` threads of its own.
    public static func start(
        config: ServerConfig, broker: Broker, logger: Logger = Logger(label: "spool.server"), eventLoopGroup: MultiThreadedEventLoopGroup? = nil
    ) async throws -> SpoolServer {
        let ownsGroup = eventLoopGroup == nil
        let group = eventLoopGroup ?? MultiThreadedEventLoopGroup(numberOfThreads: max(1, config.networkThreads))
        let startedNs = WallClock.monotonicNs()
        // The broker may have lowered the connection limit to fit the file descriptor limit.
        let limits: SpoolLimits = {
            var limits = config.limits
            limits.connections = min(limits.connections, broker.connectionLimit)
            return limits
        }()
        let groups = GroupManager(broker: broker, limits: limits, logger: logger, cluster: config.cluster)
        groups.start(on: group.next())
        let optionFailures = RateLimitedLog(logger: logger, message: "socket option failed")
        let acceptFailures = RateLimitedLog(logger: logger, message: "accept failed; retrying shortly")
        let reserve = HandleReserve()
        let addresses = AddressCounts()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Without a backoff an accept that fails for want of file handles (EMFILE) is
                    // retried at once, forever: a network thread spins at 100 % CPU.
                    try channel.pipeline.syncOperations.addHandler(AcceptBackoff(log: acceptFailures, reserve: reserve))
                }
            }
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // A client that shuts down its sending side still gets every reply (ChannelEvent.inputClosed).
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Set here rather than as childChannelOption: a failed childChannelOption
                    // closes the accepted connection with nothing logged. A failed option costs
                    // only its effect, and says so in the log.
                    SocketTuning.apply(to: channel, failures: optionFailures)
                    if reserve.takeRefusal(channel) {
                        try channel.pipeline.syncOperations.addHandler(RefusalHandler(reserve: reserve))
                        return
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectionHandler(
                            broker: broker, groups: groups, limits: limits, startedNs: startedNs, logger: logger, addresses: addresses,
                            cluster: config.cluster))
                }
            }
        do {
            let channel = try await bootstrap.bind(host: config.host, port: config.port).get()
            let host = config.host.contains(":") ? "[\(config.host)]" : config.host
            config.cluster.bound(clientAddress: "\(host):\(channel.localAddress?.port ?? config.port)")
            return SpoolServer(
                config: config, broker: broker, groups: groups, group: group, ownsGroup: ownsGroup, channel: channel, logger: logger,
                startedNs: startedNs)
        } catch {
            groups.stop()
            if ownsGroup { try? await group.shutdownGracefully() }
            throw error
        }
    }

    /// Where clients reach this broker, `host:port` as bound (what peers are told in the hello).
    public var clientAddress: String { config.cluster.clientAddress ?? "\(config.host):\(config.port)" }

    /// One of the network event loops (for work that must not make a loop of its own, e.g. while
    /// the process may be out of file handles).
    public var eventLoop: EventLoop { group.next() }

    /// Stops accepting new connections. Open ones keep working, so a graceful shutdown can let
    /// in-flight writes commit and their replies go out before `shutdown`.
    public func stopAccepting() async {
        try? await channel.close()
    }

    /// Closes every connection and stops the network threads.
    public func shutdown() async {
        groups.stop()
        try? await channel.close()
        if ownsGroup { try? await group.shutdownGracefully() }
    }
}
