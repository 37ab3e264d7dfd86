import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Raft
import SpoolCluster

/// The broker-to-broker transport: one TCP connection per pair of brokers (the lower id dials),
/// a hello that names the cluster and the node, then frames of Raft messages for any number of
/// groups (docs/cluster.md, "Peer protocol").
///
/// `send` never blocks and never fails: messages wait in a bounded per-peer queue and go out in
/// one frame per event-loop task; a peer that is down or slow loses what does not fit (Raft
/// retries). Received messages go to `receive` on the connection's event loop, in order per peer:
/// the receiver must hand them off without blocking.
public final class PeerTransport: Sendable {
    public let config: PeerTransportConfig
    public let stats = PeerTransportStats()
    let logger: Logger
    let receive: @Sendable (NodeID, [AddressedMessage]) -> Void
    private let group: EventLoopGroup
    private let links: [NodeID: PeerLink]
    private let listener: NIOLockedValueBox<Channel?> = NIOLockedValueBox(nil)
    private let stopped = NIOLockedValueBox(false)
    private let peerClientAddresses = NIOLockedValueBox<[NodeID: String]>([:])

    private init(
        config: PeerTransportConfig, group: EventLoopGroup, logger: Logger, receive: @escaping @Sendable (NodeID, [AddressedMessage]) -> Void
    ) {
        self.config = config
        self.group = group
        self.logger = logger
        self.receive = receive
        self.links = Dictionary(uniqueKeysWithValues: config.peers.map { ($0.key, PeerLink(peer: $0.key, address: $0.value)) })
    }

    /// Binds the peer listener and starts dialing every higher-numbered peer.
    public static func start(
        config: PeerTransportConfig, group: EventLoopGroup, logger: Logger = Logger(label: "spool.peer"),
        receive: @escaping @Sendable (NodeID, [AddressedMessage]) -> Void
    ) async throws -> PeerTransport {
        let transport = PeerTransport(config: config, group: group, logger: logger, receive: receive)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(PeerChannelHandler(transport: transport, role: .acceptor))
                }
            }
            .bind(host: config.listen.host, port: config.listen.port).get()
        transport.listener.withLockedValue { $0 = channel }
        for link in transport.sortedLinks where config.dials(link.peer) { transport.dial(link) }
        return transport
    }

    /// The address the listener bound (with the real port when the config asked for 0).
    public var localAddress: SocketAddress? { listener.withLockedValue { $0?.localAddress } }

    /// Queues `messages` (all to `peer`) for the next frame to it.
    public func send(_ messages: [AddressedMessage], to peer: NodeID) {
        guard let link = links[peer], !messages.isEmpty else { return }
        let (accepted, channel) = link.enqueue(messages, limitBytes: config.queuedBytesPerPeer)
        if accepted < messages.count { PeerTransportStats.add(stats.messagesDropped, messages.count - accepted) }
        if let channel { channel.eventLoop.execute { self.flush(peer, on: channel) } }
    }

    /// Whether the connection to `peer` is established now (METADATA's up/down).
    public func isConnected(_ peer: NodeID) -> Bool { links[peer]?.isConnected ?? false }

    /// The client address `peer` announced in its last hello, if it has connected.
    public func clientAddress(of peer: NodeID) -> String? { peerClientAddresses.withLockedValue { $0[peer] } }

    /// Stops listening and dialing, and closes every connection.
    public func shutdown() async {
        stopped.withLockedValue { $0 = true }
        let channel = listener.withLockedValue { $0 }
        try? await channel?.close()
        for link in sortedLinks {
            _ = try? await link.stopDialing()?.get()
            try? await link.channel?.close()
        }
    }

    // MARK: For the connection handlers

    var hello: PeerHello { PeerHello(clusterID: config.clusterID, node: config.node, clientAddress: config.clientAddress) }

    /// Why a hello is not accepted on a connection of `role`, or nil.
    func problem(with hello: PeerHello, role: PeerChannelHandler.Role) -> String? {
        if hello.version != PeerHello.currentVersion {
            return "protocol version \(hello.version), this broker speaks \(PeerHello.currentVersion)"
        }
        if hello.clusterID != config.clusterID { return "cluster id \(hello.clusterID) is not this cluster's (\(config.clusterID))" }
        switch role {
        case .dialer(let expected):
            if hello.node != expected { return "dialed node \(expected.rawValue) at \(links[expected]?.address.description ?? "?") but node \(hello.node.rawValue) answered" }
        case .acceptor:
            guard links[hello.node] != nil else { return "node \(hello.node.rawValue) is not in this broker's --peers" }
            if config.dials(hello.node) {
                return "node \(hello.node.rawValue) should be dialed by this broker (the lower id dials)"
            }
        }
        return nil
    }

    func linkUp(_ peer: NodeID, channel: Channel, clientAddress: String) {
        guard let link = links[peer] else { return }
        peerClientAddresses.withLockedValue { $0[peer] = clientAddress }
        let (replaced, flush) = link.up(channel)
        replaced?.close(promise: nil)
        PeerTransportStats.add(stats.connectionsEstablished, 1)
        logger.info("peer connected", metadata: ["peer.id": "\(peer.rawValue)", "peer.address": "\(link.address)"])
        if flush { channel.eventLoop.execute { self.flush(peer, on: channel) } }
    }

    func linkDown(_ peer: NodeID, channel: Channel) {
        guard let link = links[peer], link.down(channel) else { return }
        logger.info("peer disconnected", metadata: ["peer.id": "\(peer.rawValue)"])
    }

    /// A dialed connection ended (or never opened): dial again after a back-off.
    func dialEnded(_ peer: NodeID) {
        guard let link = links[peer], !stopped.withLockedValue({ $0 }) else { return }
        let delay = link.nextReconnectDelay(initial: config.reconnectInitialMs, max: config.reconnectMaxMs)
        link.retryScheduled(group.next().scheduleTask(in: .milliseconds(delay)) { self.dial(link) })
    }

    /// Writes everything queued for `peer`, split into frames within the frame limit.
    func flush(_ peer: NodeID, on channel: Channel) {
        guard let link = links[peer] else { return }
        let messages = link.takePending(for: channel)
        guard !messages.isEmpty else { return }
        var out = ByteBuffer()
        var frame: [AddressedMessage] = []
        var frameBytes = 0
        let budget = config.limits.frameBytes / 2
        var frames = 0
        for message in messages {
            let bytes = PeerLink.estimatedBytes(message)
            if !frame.isEmpty && (frameBytes + bytes > budget || frame.count >= config.limits.messagesPerFrame) {
                PeerFrameEncoder.encode(.raft(frame), into: &out)
                frames += 1
                frame = []
                frameBytes = 0
            }
            frame.append(message)
            frameBytes += bytes
        }
        PeerFrameEncoder.encode(.raft(frame), into: &out)
        frames += 1
        PeerTransportStats.add(stats.framesSent, frames)
        PeerTransportStats.add(stats.messagesSent, messages.count)
        channel.writeAndFlush(out, promise: nil)
    }

    // MARK: Dialing

    private var sortedLinks: [PeerLink] { links.values.sorted { $0.peer < $1.peer } }

    private func dial(_ link: PeerLink) {
        guard !stopped.withLockedValue({ $0 }) else { return }
        let peer = link.peer
        let connecting = ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(2))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(PeerChannelHandler(transport: self, role: .dialer(expected: peer)))
                }
            }
            .connect(host: link.address.host, port: link.address.port)
        link.dialStarted(connecting)
        connecting.whenFailure { _ in self.dialEnded(peer) }
    }
}
