import NIOCore
import SpoolCore

/// What one producer connection did.
struct ProducerTally: Sendable {
    var acked = 0
    var errors = 0
    var firstError: String?
    var latency = LatencyHistogram()

    /// The connection closed early: every record of `count` that got no answer is an error.
    mutating func closedEarly(of count: Int) {
        guard acked + errors < count else { return }
        errors = count - acked
        if firstError == nil { firstError = "connection closed by the broker" }
    }
}

/// One pipelined producer connection: keeps up to `depth` `PUB`s in flight, sends a refill for
/// every `OK` in one write per read cycle, and records each record's send-to-ack latency.
///
/// Requests are encoded straight into one outbound buffer (no per-record allocation), so the
/// generator's cost per record stays small beside the broker's.
final class ProducerHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let shape: RecordShape
    private let prefix: [UInt8]
    private let suffix: [UInt8]
    private let value: [UInt8]
    /// This connection sends global record numbers `first, first + stride, ...` below `total`.
    private let first: Int
    private let stride: Int
    private let count: Int
    private let depth: Int
    private let done: EventLoopPromise<ProducerTally>
    private var sent = 0
    private var tally = ProducerTally()
    /// Send times of the records in flight, oldest first (replies come in request order).
    private var sentAt: CircularBuffer<UInt64>
    private var scanner = ReplyScanner()
    private var outbound: ByteBuffer
    private var finished = false

    init(shape: RecordShape, first: Int, stride: Int, count: Int, depth: Int, done: EventLoopPromise<ProducerTally>) {
        self.shape = shape
        self.prefix = shape.prefix
        self.suffix = shape.suffix
        self.value = shape.value
        self.first = first
        self.stride = stride
        self.count = count
        self.depth = max(1, depth)
        self.done = done
        self.sentAt = CircularBuffer(initialCapacity: max(1, depth))
        self.outbound = ByteBuffer()
        outbound.reserveCapacity(min(depth, 4096) * (shape.valueBytes + 64))
    }

    func channelActive(context: ChannelHandlerContext) {
        refill(context: context)
        context.fireChannelActive()
    }

    private func refill(context: ChannelHandlerContext) {
        let now = WallClock.monotonicNs()
        while sent < count && sentAt.count < depth {
            encode(record: first + sent * stride)
            sentAt.append(now)
            sent += 1
        }
        if outbound.readableBytes > 0 {
            let bytes = outbound
            outbound = context.channel.allocator.buffer(capacity: bytes.capacity)
            context.writeAndFlush(NIOAny(bytes), promise: nil)
        }
    }

    private func encode(record number: Int) {
        outbound.writeBytes(prefix)
        if shape.keys > 0 {
            outbound.writeStaticString(" key=k")
            outbound.writeDecimal(number % shape.keys)
        }
        outbound.writeBytes(suffix)
        outbound.writeBytes(value)
        outbound.writeInteger(UInt8(ascii: "\n"))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        let now = WallClock.monotonicNs()
        scanner.feed(&bytes) { frame in
            guard case .line(let line) = frame, let sentNs = sentAt.popFirst() else { return true }
            tally.latency.record(nanoseconds: now &- sentNs)
            if ReplyScanner.startsWithOK(line) {
                tally.acked += 1
            } else {
                tally.errors += 1
                if tally.firstError == nil { tally.firstError = String(decoding: line, as: UTF8.self) }
            }
            return true
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if tally.acked + tally.errors >= count {
            finish()
        } else {
            refill(context: context)
        }
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
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
        done.succeed(tally)
    }
}

extension ByteBuffer {
    /// Appends a non-negative integer in decimal without allocating.
    mutating func writeDecimal(_ value: Int) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // up to 24 bytes of scratch
        withUnsafeMutableBytes(of: &digits) { scratch in
            var magnitude = value.magnitude
            var at = scratch.count
            repeat {
                at -= 1
                scratch[at] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            _ = writeBytes(UnsafeRawBufferPointer(rebasing: scratch[at...]))
        }
    }
}
