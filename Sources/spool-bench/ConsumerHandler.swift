import NIOCore
import SpoolCore

/// What one consumer connection received.
struct ConsumerTally: Sendable {
    var records = 0
    var valueBytes = 0
    var wireBytes = 0
    var requests = 0
    var error: String?
    /// FETCH: round trip of each request. SUB: unused.
    var latency = LatencyHistogram()
}

/// Reads one partition from `from` up to `until` (exclusive) with back-to-back `FETCH`es, or a
/// whole topic from the earliest offset with one `SUB`, counting records as they arrive.
final class ConsumerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Mode: Sendable {
        case fetch(partition: Int, from: Int, until: Int, max: Int)
        /// `SUB topic from=earliest` until `records` have arrived.
        case subscribe(records: Int)
    }

    private let topic: String
    private let mode: Mode
    private let done: EventLoopPromise<ConsumerTally>
    private var tally = ConsumerTally()
    private var scanner = ReplyScanner()
    private var next = 0
    private var requestedAt: UInt64 = 0
    private var finished = false

    init(topic: String, mode: Mode, done: EventLoopPromise<ConsumerTally>) {
        self.topic = topic
        self.mode = mode
        self.done = done
    }

    func channelActive(context: ChannelHandlerContext) {
        switch mode {
        case .fetch(_, let from, _, _):
            next = from
            sendFetch(context: context)
        case .subscribe:
            send("SUB \(topic) from=earliest\n", context: context)
        }
        context.fireChannelActive()
    }

    private func sendFetch(context: ChannelHandlerContext) {
        guard case .fetch(let partition, _, _, let max) = mode else { return }
        requestedAt = WallClock.monotonicNs()
        tally.requests += 1
        send("FETCH \(topic) \(partition) \(next) max=\(max)\n", context: context)
    }

    private func send(_ line: String, context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: line)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        tally.wireBytes += bytes.readableBytes
        var fetchAgain = false
        scanner.feed(&bytes) { frame in
            switch frame {
            case .message(_, let payload):
                tally.records += 1
                tally.valueBytes += payload.count
                if case .subscribe(let records) = mode, tally.records >= records {
                    finish(context: context)
                    return false
                }
            case .line(let line):
                if ReplyScanner.startsWithOK(line) { return true }  // the SUB's OK
                guard case .fetch(_, _, let until, _) = mode, let end = ReplyScanner.field("next", in: line) else {
                    tally.error = String(decoding: line, as: UTF8.self)
                    finish(context: context)
                    return false
                }
                tally.latency.record(nanoseconds: WallClock.monotonicNs() &- requestedAt)
                next = end
                if next >= until {
                    finish(context: context)
                    return false
                }
                fetchAgain = true
            }
            return true
        }
        if fetchAgain && !finished { sendFetch(context: context) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !finished && tally.error == nil { tally.error = "connection closed by the broker" }
        finish(context: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func finish(context: ChannelHandlerContext?) {
        guard !finished else { return }
        finished = true
        done.succeed(tally)
        context?.close(promise: nil)
    }
}
