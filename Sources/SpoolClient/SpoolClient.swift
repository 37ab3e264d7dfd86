import NIOCore
import NIOPosix
import SpoolCore
import SpoolProtocol

/// An async client for one connection to a Spool broker, over the documented line protocol.
///
/// Calls may be made concurrently from many tasks: requests are pipelined on the connection and
/// replies matched in order. Records pushed by subscriptions arrive on `deliveries`.
///
/// `connect(to:)` takes a list of broker addresses and uses the first that answers; a client
/// stays bound to that one broker, and `SpoolConnection` moves to another when it goes away.
public final class SpoolClient: Sendable {
    let channel: Channel
    /// The broker this client is connected to (with a list, the one that answered).
    public let address: ServerAddress
    /// Every record pushed to this connection by `subscribe`, in arrival order. The stream buffers
    /// without bound in this process: a consumer that falls behind grows its own memory (the
    /// broker's side stays bounded by `subscriptionBatchBytes` per partition).
    public let deliveries: AsyncStream<Message>
    /// Every `ASSIGNED` / `REVOKED` line pushed to this connection as a group member.
    public let groupEvents: AsyncStream<GroupEvent>

    private init(channel: Channel, address: ServerAddress, deliveries: AsyncStream<Message>, groupEvents: AsyncStream<GroupEvent>) {
        self.channel = channel
        self.address = address
        self.deliveries = deliveries
        self.groupEvents = groupEvents
    }

    /// Connects to `host:port`, giving up after `connectTimeout` (the TCP handshake only).
    public static func connect(
        host: String = "127.0.0.1", port: Int = 7070, connectTimeout: Duration = .seconds(10),
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> SpoolClient {
        let (stream, continuation) = AsyncStream<Message>.makeStream()
        let (events, eventContinuation) = AsyncStream<GroupEvent>.makeStream()
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(TimeAmount(connectTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ClientHandler(
                            deliver: { continuation.yield($0) }, notify: { eventContinuation.yield($0) },
                            finish: {
                                continuation.finish()
                                eventContinuation.finish()
                            }))
                }
            }
            .connect(host: host, port: port).get()
        // TCP's simultaneous open: connecting to a port on this host that nobody listens on
        // (a broker just stopped) can pick that very port as the source port and "connect" to
        // itself. Nothing answers such a connection; it is a refusal.
        if let local = channel.localAddress, let remote = channel.remoteAddress, local == remote {
            try? await channel.close()
            throw IOError(errnoCode: ECONNREFUSED, reason: "connect")
        }
        return SpoolClient(channel: channel, address: ServerAddress(host: host, port: port), deliveries: stream, groupEvents: events)
    }

    /// False once the connection is closed, by either side. A closed client stays closed: every
    /// call on it fails with `connectionClosed`; make a new one (or use `SpoolConnection`).
    public var isConnected: Bool { channel.isActive }

    /// Returns when the connection has closed (the broker went away, or `close()`).
    public func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }

    /// Closes the connection; calls still waiting fail with `connectionClosed`.
    public func close() async {
        try? await channel.close()
    }

    // MARK: Raw requests

    /// Sends one request line (no line end) and returns the reply's lines. `ERR` replies throw.
    /// A line with a line break in it is refused: it would be two requests, and the second one's
    /// reply would be read as the answer to the next call.
    public func send(line: String, expectingBlock: Bool = false) async throws -> [String] {
        guard !line.utf8.contains(where: { $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) else {
            throw SpoolClientError.invalidArgument("a request line cannot contain a line break")
        }
        var bytes = channel.allocator.buffer(capacity: line.utf8.count + 1)
        bytes.writeString(line)
        bytes.writeString("\n")
        return try await request(bytes, shape: expectingBlock ? .block : .line).lines
    }

    func request(_ bytes: ByteBuffer, shape: ReplyShape) async throws -> RawReply {
        try await requestFuture(bytes, shape: shape, flush: true).get()
    }

    func requestFuture(_ bytes: ByteBuffer, shape: ReplyShape, flush: Bool) -> EventLoopFuture<RawReply> {
        let promise = channel.eventLoop.makePromise(of: RawReply.self)
        let request = ClientRequest(bytes: bytes, shape: shape, promise: promise)
        // A write to a closed channel never reaches the handler, so nobody would answer the
        // reply promise: fail it here.
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { _ in promise.fail(SpoolClientError.connectionClosed) }
        if flush {
            channel.writeAndFlush(request, promise: written)
        } else {
            channel.write(request, promise: written)
        }
        return promise.futureResult.flatMapThrowing { reply in
            if reply.messages.isEmpty, reply.lines.count == 1, let line = reply.lines.first, line.hasPrefix("ERR ") {
                throw Self.serverError(line)
            }
            return reply
        }
    }

    static func serverError(_ line: String) -> SpoolClientError {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        return .server(code: parts.count > 1 ? String(parts[1]) : "", message: parts.count > 2 ? String(parts[2]) : "")
    }

    func topicName(_ name: String) throws -> TopicName {
        guard let topic = TopicName(name) else { throw SpoolClientError.invalidArgument("illegal topic name \(name)") }
        return topic
    }

    /// Group names follow the topic-name rule (`GroupName`).
    func checkGroupName(_ name: String) throws {
        guard GroupName(name) != nil else { throw SpoolClientError.invalidArgument("illegal group name \(name)") }
    }
}
