import NIOCore
import SpoolProtocol

/// What a request expects back.
enum ReplyShape: Sendable {
    /// One line (`OK ...`, `PONG`, or `ERR ...`).
    case line
    /// Lines up to and including the first starting with `END` (or a single `ERR` line).
    case block
    /// `MSG` records, then an `END` line (or a single `ERR` line).
    case records
}

/// A reply as received: its lines (the last one is the `END` or the only line) and, for
/// `.records`, the messages.
struct RawReply: Sendable {
    var lines: [String]
    var messages: [Message]
}

/// A request on its way down the pipeline: its bytes, and who waits for which reply.
struct ClientRequest {
    var bytes: ByteBuffer
    var shape: ReplyShape
    var promise: EventLoopPromise<RawReply>
}

/// Matches replies to requests in order (the broker answers in request order) and sends pushed
/// `MSG` records (subscriptions) to `deliver`.
final class ClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ClientRequest
    typealias OutboundOut = ByteBuffer

    private var parser = ReplyParser()
    private var buffer = ByteBuffer()
    private var pending = CircularBuffer<(shape: ReplyShape, promise: EventLoopPromise<RawReply>)>()
    private var current = RawReply(lines: [], messages: [])
    private let deliver: @Sendable (Message) -> Void
    private let notify: @Sendable (GroupEvent) -> Void
    private let finish: @Sendable () -> Void

    init(
        deliver: @escaping @Sendable (Message) -> Void, notify: @escaping @Sendable (GroupEvent) -> Void,
        finish: @escaping @Sendable () -> Void
    ) {
        self.deliver = deliver
        self.notify = notify
        self.finish = finish
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        pending.append((request.shape, request.promise))
        context.write(wrapOutboundOut(request.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        do {
            while let frame = try parser.next(from: &buffer) {
                handle(frame)
            }
        } catch {
            failAll(SpoolClientError.protocolViolation("\(error)"))
            context.close(promise: nil)
        }
        if buffer.readableBytes == 0 { buffer.clear() } else if buffer.readerIndex > 1 << 16 { buffer.discardReadBytes() }
    }

    private func handle(_ frame: ReplyFrame) {
        switch frame {
        case .message(let message):
            if case .records = pending.first?.shape {
                current.messages.append(message)
            } else {
                deliver(message)
            }
        case .line(let line):
            // ASSIGNED and REVOKED are pushed, like MSG, never replies to a request.
            if let event = GroupEvent(line: line) {
                notify(event)
                return
            }
            // The broker ended a plain subscription (its topic was dropped): pushed, not a reply.
            if line.hasPrefix("UNSUBSCRIBED ") { return }
            guard let head = pending.first else { return }  // e.g. nothing asked: ignore
            current.lines.append(line)
            let done: Bool
            switch head.shape {
            case .line: done = true
            case .block, .records: done = line.hasPrefix("END") || (current.lines.count == 1 && line.hasPrefix("ERR "))
            }
            if done {
                pending.removeFirst()
                let reply = current
                current = RawReply(lines: [], messages: [])
                head.promise.succeed(reply)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(SpoolClientError.connectionClosed)
        finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Close first, so a caller woken by the failure already sees `isConnected == false`.
        context.close(promise: nil)
        failAll(SpoolClientError.connectionClosed)
    }

    private func failAll(_ error: SpoolClientError) {
        while let head = pending.popFirst() {
            head.promise.fail(error)
        }
    }
}
