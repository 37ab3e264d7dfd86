import NIOCore
import SpoolCore

/// The `SUB` side of the end-to-end run: each value starts with the 20-digit monotonic time (ns)
/// at which its record was *due* to be sent, so the latency includes any time the producer fell
/// behind its schedule (no coordinated omission).
final class LatencySubscriber: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let topic: String
    private var records: Int
    private let subscribed: EventLoopPromise<Void>
    private let done: EventLoopPromise<ConsumerTally>
    private var tally = ConsumerTally()
    private var scanner = ReplyScanner()
    private var finished = false

    init(topic: String, records: Int, subscribed: EventLoopPromise<Void>, done: EventLoopPromise<ConsumerTally>) {
        self.topic = topic
        self.records = records
        self.subscribed = subscribed
        self.done = done
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: "SUB \(topic) from=latest\n")), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        let now = WallClock.monotonicNs()
        scanner.feed(&bytes) { frame in
            switch frame {
            case .message(_, let payload):
                tally.records += 1
                tally.valueBytes += payload.count
                let due = UInt64(ReplyScanner.number(payload, from: 0))
                tally.latency.record(nanoseconds: now > due ? now - due : 0)
                if tally.records >= records {
                    finish(context: context)
                    return false
                }
            case .line(let line):
                if ReplyScanner.startsWithOK(line) {
                    subscribed.succeed()
                } else {
                    tally.error = String(decoding: line, as: UTF8.self)
                    subscribed.succeed()
                    finish(context: context)
                    return false
                }
            }
            return true
        }
    }

    /// The producer is done and only `acked` of its records got an OK: the rest (refused during a
    /// leadership change, say) will not all arrive, so the run ends once `acked` have.
    struct ExpectAcked { var acked: Int }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let expect = event as? ExpectAcked {
            records = min(records, expect.acked)
            if tally.records >= records { finish(context: context) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !finished && tally.error == nil { tally.error = "connection closed by the broker" }
        subscribed.succeed()
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

/// The `PUB` side of the end-to-end run: sends records on a fixed schedule (`rate` per second,
/// checked every `tick`), each value stamped with its due time, with at most `window` in flight.
final class PacedProducer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let shape: RecordShape
    private let prefix: [UInt8]
    private let suffix: [UInt8]
    private let filler: [UInt8]
    private let count: Int
    private let rate: Double
    private let window: Int
    private let tick: TimeAmount
    private let done: EventLoopPromise<ProducerTally>
    private var startNs: UInt64 = 0
    private var sent = 0
    private var sentAt = CircularBuffer<UInt64>()
    private var tally = ProducerTally()
    private var scanner = ReplyScanner()
    private var timer: RepeatedTask?
    private var finished = false

    init(shape: RecordShape, count: Int, rate: Double, window: Int, tick: TimeAmount, done: EventLoopPromise<ProducerTally>) {
        precondition(shape.valueBytes >= 20, "end-to-end values carry a 20-digit timestamp")
        self.shape = shape
        self.prefix = shape.prefix
        self.suffix = shape.suffix
        self.filler = Array(shape.value.dropFirst(20))
        self.count = count
        self.rate = rate
        self.window = window
        self.tick = tick
        self.done = done
    }

    func channelActive(context: ChannelHandlerContext) {
        startNs = WallClock.monotonicNs()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: tick) { _ in
            let (handler, context) = bound.value
            handler.sendDue(context: context)
        }
        context.fireChannelActive()
    }

    private func dueNs(_ record: Int) -> UInt64 { startNs + UInt64(Double(record) * 1e9 / rate) }

    private func sendDue(context: ChannelHandlerContext) {
        let now = WallClock.monotonicNs()
        var out = context.channel.allocator.buffer(capacity: 0)
        while sent < count, sentAt.count < window, dueNs(sent) <= now {
            let due = dueNs(sent)
            out.writeBytes(prefix)
            if shape.keys > 0 {
                out.writeStaticString(" key=k")
                out.writeDecimal(sent % shape.keys)
            }
            out.writeBytes(suffix)
            let digits = String(due)
            out.writeRepeatingByte(UInt8(ascii: "0"), count: 20 - digits.utf8.count)
            out.writeString(digits)
            out.writeBytes(filler)
            out.writeInteger(UInt8(ascii: "\n"))
            sentAt.append(due)
            sent += 1
        }
        if out.readableBytes > 0 { context.writeAndFlush(NIOAny(out), promise: nil) }
        if sent >= count { timer?.cancel() }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        let now = WallClock.monotonicNs()
        scanner.feed(&bytes) { frame in
            guard case .line(let line) = frame, let due = sentAt.popFirst() else { return true }
            tally.latency.record(nanoseconds: now > due ? now - due : 0)
            if ReplyScanner.startsWithOK(line) {
                tally.acked += 1
            } else {
                tally.errors += 1
                if tally.firstError == nil { tally.firstError = String(decoding: line, as: UTF8.self) }
            }
            return true
        }
        if tally.acked + tally.errors >= count { finish() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        if !finished { tally.closedEarly(of: count) }
        finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        done.succeed(tally)
    }
}
