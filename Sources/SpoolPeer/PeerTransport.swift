import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Raft
import SpoolCluster
import SpoolCore

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
    /// Boxed in a class: a closure kept as the value of a generic lock box gains a reabstraction
    /// thunk at every inout access (`withLockedValue`), so a handler read per request grew a
    /// chain of thunks that every later request walked (measured: 1.6 cores of a leader's CPU
    /// after some 10^6 forwarded PUBs). A class reference is read as it is.
    private let requestHandler = NIOLockedValueBox<RequestHandlerBox?>(nil)

    private final class RequestHandlerBox: Sendable {
        let handle: PeerRequestHandler
        init(_ handle: @escaping PeerRequestHandler) { self.handle = handle }
    }
    private let requests = NIOLockedValueBox(Requests())
    /// Counts the replicas this broker stopped or replaced (told to peers in every keepalive).
    private let generation = NIOLockedValueBox<UInt64>(0)
    private let keepalive = NIOLockedValueBox<RepeatedTask?>(nil)

    /// Requests this broker sent and is waiting on, by id.
    private struct Requests {
        var nextID: UInt64 = 0
        var waiting: [UInt64: PendingRequest] = [:]
    }

    private struct PendingRequest {
        var peer: NodeID
        var finish: @Sendable (Result<[UInt8], PeerRequestError>) -> Void
        /// When it times out (monotonic ns), found by the sweep each keepalive interval: no timer
        /// per request.
        var deadlineNs: UInt64
        var timeoutMs: Int64
    }

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
        let interval = TimeAmount.milliseconds(config.keepaliveIntervalMs)
        let task = group.next().scheduleRepeatedTask(initialDelay: interval, delay: interval) { [weak transport] _ in
            transport?.sendKeepalives()
            transport?.expireRequests()
        }
        transport.keepalive.withLockedValue { $0 = task }
        return transport
    }

    /// One keepalive to every connected peer.
    private func sendKeepalives() {
        let frame = PeerFrameEncoder.encode(.keepalive(generation: generation.withLockedValue { $0 }))
        for link in links.values {
            guard let channel = link.channel else { continue }
            channel.writeAndFlush(frame, promise: nil)
        }
    }

    /// A replica of this broker stopped or was replaced: the next keepalive tells every peer, whose
    /// quiesced groups with a replica here then wake (the replica they follow may be gone).
    public func replicasChanged() {
        generation.withLockedValue { $0 &+= 1 }
    }

    /// Every peer's liveness now (`PeerLiveness`).
    public func liveness() -> [NodeID: PeerLiveness] {
        let now = WallClock.monotonicNs()
        return links.mapValues { $0.liveness(at: now, timeoutNs: livenessTimeoutNs) }
    }

    /// Whether `peer` is live now: connected, and heard from within `livenessTimeoutMs`.
    public func isLive(_ peer: NodeID) -> Bool {
        links[peer]?.liveness(at: WallClock.monotonicNs(), timeoutNs: livenessTimeoutNs).live ?? false
    }

    private var livenessTimeoutNs: UInt64 { UInt64(config.livenessTimeoutMs) * 1_000_000 }

    /// A frame arrived from `peer` (a keepalive carries its generation).
    func heard(_ peer: NodeID, generation: UInt64? = nil) {
        links[peer]?.heard(at: WallClock.monotonicNs(), generation: generation)
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

    // MARK: Requests

    /// Serves the peers' requests from now on: `handler` gets each request with the function that
    /// answers it (once, from any thread). Until a handler is set, requests are answered as not
    /// served.
    public func serveRequests(_ handler: @escaping PeerRequestHandler) {
        requestHandler.withLockedValue { $0 = RequestHandlerBox(handler) }
    }

    /// Sends a request to `peer` and hears its answer, or why there is none: `peer` has no
    /// connection now, the connection closed first, or no answer came within `timeoutMs` (found by
    /// a sweep each `keepaliveIntervalMs`, so up to that much later).
    /// `finish` runs once, on an event loop of the transport.
    public func request(
        _ service: PeerService, _ payload: [UInt8], to peer: NodeID, timeoutMs: Int64,
        _ finish: @escaping @Sendable (Result<[UInt8], PeerRequestError>) -> Void
    ) {
        guard let link = links[peer], let channel = link.channel else {
            finish(.failure(.unreachable(peer)))
            return
        }
        guard payload.count + 64 <= config.limits.frameBytes else {
            finish(.failure(.tooLarge(bytes: payload.count, limit: config.limits.frameBytes - 64)))
            return
        }
        let deadline = WallClock.monotonicNs() + UInt64(max(0, timeoutMs)) * 1_000_000
        let id = requests.withLockedValue { requests -> UInt64 in
            requests.nextID += 1
            requests.waiting[requests.nextID] = PendingRequest(peer: peer, finish: finish, deadlineNs: deadline, timeoutMs: timeoutMs)
            return requests.nextID
        }
        PeerTransportStats.add(stats.requestsSent, 1)
        guard write(.request(PeerRequest(id: id, service: service, payload: payload)), to: link, on: channel) else {
            // The connection went down in between: no answer can come on it.
            requests.withLockedValue { $0.waiting.removeValue(forKey: id) }?.finish(.failure(.disconnected(peer)))
            return
        }
    }

    /// Queues `frame` on `channel` and flushes it with everything else queued, once per
    /// event-loop task: a thousand forwarded PUBs in flight are a few writes, not a thousand.
    /// False when `channel` is no longer the peer's connection (the frame is dropped).
    @discardableResult
    private func write(_ frame: PeerFrame, to link: PeerLink, on channel: Channel) -> Bool {
        let (queued, flushOn) = link.enqueueFrame(frame, on: channel)
        if let flushOn { flushOn.eventLoop.execute { self.flush(link.peer, on: flushOn) } }
        return queued
    }

    /// Fails the requests whose deadline has passed (run each keepalive interval).
    private func expireRequests() {
        let now = WallClock.monotonicNs()
        let expired = requests.withLockedValue { requests -> [PendingRequest] in
            let ids = requests.waiting.filter { $0.value.deadlineNs <= now }.map(\.key)
            return ids.compactMap { requests.waiting.removeValue(forKey: $0) }
        }
        for pending in expired { pending.finish(.failure(.timedOut(ms: pending.timeoutMs))) }
    }

    /// `request`, awaited.
    public func request(_ service: PeerService, _ payload: [UInt8], to peer: NodeID, timeoutMs: Int64) async -> Result<[UInt8], PeerRequestError> {
        await withCheckedContinuation { continuation in
            request(service, payload, to: peer, timeoutMs: timeoutMs) { continuation.resume(returning: $0) }
        }
    }

    /// A request arrived from `peer` on `channel`: the handler answers it there.
    func serve(_ request: PeerRequest, from peer: NodeID, on channel: Channel) {
        PeerTransportStats.add(stats.requestsServed, 1)
        let id = request.id
        guard let link = links[peer] else { return }
        guard let handler = requestHandler.withLockedValue({ $0 })?.handle else {
            write(.response(PeerResponse(id: id, served: false, payload: Array("this broker serves no requests yet".utf8))), to: link, on: channel)
            return
        }
        let limit = config.limits.frameBytes - 64
        handler(peer, request) { reply in
            // A frame past the limit would make the asking broker drop the connection as damaged.
            let response =
                reply.count <= limit
                ? PeerResponse(id: id, served: true, payload: reply)
                : PeerResponse(id: id, served: false, payload: Array("the answer is \(reply.count) bytes; a peer frame holds \(limit)".utf8))
            self.write(.response(response), to: link, on: channel)
        }
    }

    /// The answer to one of this broker's requests (ignored when it already timed out, or names
    /// a request that was not sent to this peer).
    func answered(_ response: PeerResponse, from peer: NodeID) {
        let pending = requests.withLockedValue { requests -> PendingRequest? in
            guard requests.waiting[response.id]?.peer == peer else { return nil }
            return requests.waiting.removeValue(forKey: response.id)
        }
        guard let pending else { return }
        if response.served {
            pending.finish(.success(response.payload))
        } else {
            pending.finish(.failure(.notServed(String(decoding: response.payload, as: UTF8.self))))
        }
    }

    /// Fails every request waiting on `peer`'s connection (it closed: no answer can come on it).
    private func failRequests(to peer: NodeID) {
        let failed = requests.withLockedValue { requests -> [PendingRequest] in
            let ids = requests.waiting.filter { $0.value.peer == peer }.map(\.key)
            return ids.compactMap { requests.waiting.removeValue(forKey: $0) }
        }
        for pending in failed { pending.finish(.failure(.disconnected(peer))) }
    }

    /// Stops listening and dialing, and closes every connection.
    public func shutdown() async {
        stopped.withLockedValue { $0 = true }
        keepalive.withLockedValue { $0.take() }?.cancel()
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
        let (replaced, flush) = link.up(channel, at: WallClock.monotonicNs())
        replaced?.close(promise: nil)
        PeerTransportStats.add(stats.connectionsEstablished, 1)
        logger.info("peer connected", metadata: ["peer.id": "\(peer.rawValue)", "peer.address": "\(link.address)"])
        if flush { channel.eventLoop.execute { self.flush(peer, on: channel) } }
    }

    func linkDown(_ peer: NodeID, channel: Channel) {
        guard let link = links[peer], link.down(channel) else { return }
        logger.info("peer disconnected", metadata: ["peer.id": "\(peer.rawValue)"])
        failRequests(to: peer)
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
        let (messages, encoded) = link.takePending(for: channel)
        guard !messages.isEmpty else {
            if let encoded { channel.writeAndFlush(encoded, promise: nil) }
            return
        }
        var out = encoded ?? ByteBuffer()
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

/// Serves one request from a peer: call the reply function once with the answer's bytes.
public typealias PeerRequestHandler = @Sendable (_ peer: NodeID, _ request: PeerRequest, _ reply: @escaping @Sendable ([UInt8]) -> Void) -> Void

/// Why a peer request has no answer.
public enum PeerRequestError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No connection to the peer now (it is down, or not connected yet).
    case unreachable(NodeID)
    /// The connection closed before the answer came: the request may or may not have been done.
    case disconnected(NodeID)
    case timedOut(ms: Int64)
    /// The peer could not serve it at all (the reason it gave).
    case notServed(String)
    case tooLarge(bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .unreachable(let peer): "broker \(peer.rawValue) is not connected"
        case .disconnected(let peer): "the connection to broker \(peer.rawValue) closed before it answered"
        case .timedOut(let ms): "no answer within \(ms) ms"
        case .notServed(let reason): "the broker could not serve it: \(reason)"
        case .tooLarge(let bytes, let limit): "a request of \(bytes) bytes is over the peer frame limit of \(limit)"
        }
    }
}
