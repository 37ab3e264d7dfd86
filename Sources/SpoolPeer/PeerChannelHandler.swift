import Logging
import NIOCore
import Raft
import SpoolCluster

/// One peer connection, either end. The first frame each way is a hello; the acceptor checks it
/// (cluster id, a known node that should be dialing us, the protocol version) and answers with
/// its own hello or `refused`. After that only Raft frames flow, and each message must come from
/// the connection's peer and be addressed to this broker. Any violation closes the connection
/// with a logged reason; nothing of it reaches a replica.
final class PeerChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Role {
        /// We dialed `expected`.
        case dialer(expected: NodeID)
        case acceptor
    }

    private enum Phase {
        case awaitingHello
        case established(NodeID)
        case closing
    }

    private let transport: PeerTransport
    private let role: Role
    private let decoder: PeerFrameDecoder
    private var phase = Phase.awaitingHello
    private var buffer = ByteBuffer()
    /// Closes the connection if the peer's hello has not come within `helloTimeoutMs`.
    private var helloDeadline: Scheduled<Void>?

    init(transport: PeerTransport, role: Role) {
        self.transport = transport
        self.role = role
        self.decoder = PeerFrameDecoder(limits: transport.config.limits)
    }

    func channelActive(context: ChannelHandlerContext) {
        if case .dialer = role {
            context.writeAndFlush(wrapOutboundOut(PeerFrameEncoder.encode(.hello(transport.hello))), promise: nil)
        }
        let timeoutMs = transport.config.helloTimeoutMs
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        helloDeadline = context.eventLoop.scheduleTask(in: .milliseconds(timeoutMs)) {
            let (handler, context) = bound.value
            guard case .awaitingHello = handler.phase else { return }
            handler.reject(context, "no hello from \(context.remoteAddress.map { "\($0)" } ?? "?") within \(timeoutMs) ms")
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if buffer.readableBytes == 0 { buffer = bytes } else { buffer.writeBuffer(&bytes) }
        do {
            if case .closing = phase { return }
            while let frame = try decoder.next(from: &buffer) {
                handle(frame, context: context)
                if case .closing = phase { return }
            }
            if buffer.readableBytes == 0 { buffer.clear() } else if buffer.readerIndex > 1 << 20 { buffer.discardReadBytes() }
        } catch {
            reject(context, "bad frame: \(error)")
        }
    }

    private func handle(_ frame: PeerFrame, context: ChannelHandlerContext) {
        switch (phase, frame) {
        case (.awaitingHello, .hello(let hello)):
            if let reason = transport.problem(with: hello, role: role) {
                if case .acceptor = role {
                    context.write(wrapOutboundOut(PeerFrameEncoder.encode(.refused(reason: reason))), promise: nil)
                }
                reject(context, "refused \(hello.node) at \(context.remoteAddress.map { "\($0)" } ?? "?"): \(reason)")
                return
            }
            if case .acceptor = role {
                context.writeAndFlush(wrapOutboundOut(PeerFrameEncoder.encode(.hello(transport.hello))), promise: nil)
            }
            phase = .established(hello.node)
            helloDeadline?.cancel()
            helloDeadline = nil
            transport.linkUp(hello.node, channel: context.channel, clientAddress: hello.clientAddress)
        case (.awaitingHello, .refused(let reason)):
            reject(context, "the peer refused this broker: \(reason)")
        case (.established(let peer), .keepalive(let generation)):
            transport.heard(peer, generation: generation)
        case (.established(let peer), .raft(let messages)):
            transport.heard(peer)
            let local = transport.config.node
            if let stray = messages.first(where: { $0.message.from != peer || $0.message.to != local }) {
                reject(context, "message \(stray.message) on the connection of \(peer)")
                return
            }
            PeerTransportStats.add(transport.stats.framesReceived, 1)
            PeerTransportStats.add(transport.stats.messagesReceived, messages.count)
            if !messages.isEmpty { transport.receive(peer, messages) }
        case (.established(let peer), .request(let request)):
            transport.heard(peer)
            transport.serve(request, from: peer, on: context.channel)
        case (.established(let peer), .response(let response)):
            transport.heard(peer)
            transport.answered(response, from: peer)
        default:
            reject(context, "unexpected \(PeerFrameKind(of: frame)) frame")
        }
    }

    private func reject(_ context: ChannelHandlerContext, _ reason: String) {
        phase = .closing
        PeerTransportStats.add(transport.stats.connectionsRejected, 1)
        transport.logger.warning("peer connection closed", metadata: ["peer.reason": "\(reason)"])
        context.flush()
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, case .established(let peer) = phase { transport.flush(peer, on: context.channel) }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        helloDeadline?.cancel()
        helloDeadline = nil
        if case .established(let peer) = phase { transport.linkDown(peer, channel: context.channel) }
        if case .dialer(let expected) = role { transport.dialEnded(expected) }
        phase = .closing
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Resets and broken pipes: the peer went away; the dialer side tries again.
        context.close(promise: nil)
    }
}

extension PeerFrameKind {
    init(of frame: PeerFrame) {
        switch frame {
        case .hello: self = .hello
        case .refused: self = .refused
        case .raft: self = .raft
        case .request: self = .request
        case .response: self = .response
        case .keepalive: self = .keepalive
        }
    }
}
