import Logging
import NIOCore
import SpoolCore
import SpoolEngine
import SpoolProtocol

/// One client connection: parses requests, runs them on the broker, and writes replies in
/// request order however their work completes.
///
/// Everything here runs on the connection's event loop; the broker does the blocking work on
/// storage threads and completes futures back on this loop. Pipelining is bounded: with
/// `pendingRequestsPerConnection` replies outstanding the handler stops parsing and stops
/// reading the socket until replies drain.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let broker: Broker
    let limits: SpoolLimits
    let startedNs: UInt64
    let logger: Logger
    private(set) var context: ChannelHandlerContext?

    private var parser: RequestParser
    /// Bytes received but not yet parsed.
    private var inbound = ByteBuffer()
    /// Replies in request order; nil while a request's work is still running.
    private var slots = CircularBuffer<ReadyReply?>()
    /// The request number of `slots.first`.
    private var firstSlot = 0
    /// Replies ready to write, coalesced into one write per read cycle.
    private var outbound = ByteBuffer()
    private var inReadCycle = false
    /// A flush of `outbound` is queued to run after the current event-loop task, so replies
    /// completed together (a group commit completes a whole batch in one task) go out in one write.
    private var flushQueued = false
    private var readPaused = false
    private var readWanted = false
    /// After QUIT or an unrecoverable input error: parse nothing more, close once replies are out.
    private var closeAfterReplies = false
    private var active = false
    var subscriptions: [TopicName: [PartitionTail]] = [:]
    /// A request that must run alone, waiting for earlier ones to be answered.
    private var held: Request?
    /// A request that runs alone is in flight; nothing else starts until it is answered.
    private var runningAlone = false
    private var parsing = false
    private var waiter: PublishWaiter?
    /// Work to do right after a request's reply is written (a SUB starts pushing only after its OK).
    var afterReply: [Int: () -> Void] = [:]

    let groups: GroupManager
    /// This connection's consumer-group membership, if it joined one.
    var membership: GroupMembership?

    init(broker: Broker, groups: GroupManager, limits: SpoolLimits, startedNs: UInt64, logger: Logger) {
        self.broker = broker
        self.groups = groups
        self.limits = limits
        self.startedNs = startedNs
        self.logger = logger
        self.parser = RequestParser(limits: limits)
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        active = true
        let open = broker.stats.connections.wrappingAdd(1, ordering: .relaxed).newValue
        BrokerStats.add(broker.stats.connectionsTotal, 1)
        if open > limits.connections {
            var reply = ByteBuffer()
            reply.writeLine(ReplyLine.error(SpoolError(.limitReached, "the broker has its limit of \(limits.connections) connections")))
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in bound.value.close(promise: nil) }
            closeAfterReplies = true
            return
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if active {
            active = false
            BrokerStats.add(broker.stats.connections, -1)
        }
        endAllSubscriptions()
        // A closed connection leaves its group at once, without committing: the peer may have
        // died before processing what it was sent.
        leaveGroup(commitDelivered: false)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset or broken pipe from the peer: nothing to answer, just close.
        context.close(promise: nil)
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !closeAfterReplies else { return }
        inReadCycle = true
        if inbound.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound.writeBuffer(&bytes)
        }
        parseBuffered()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadCycle = false
        flushOutbound()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if readPaused {
            readWanted = true
        } else {
            context.read()
        }
    }

    /// Parses and starts buffered requests while nothing blocks them.
    ///
    /// Pipelined `PUB`s run concurrently (that is what fills a group commit), in the order they
    /// arrived. Every other command runs alone: it starts once all earlier requests are answered
    /// and later ones wait for it, so a pasted script (`CREATE`, `PUB`, `FETCH`...) behaves as if
    /// typed line by line. While blocked, the socket is not read, so buffered input stays bounded.
    func parseBuffered() {
        guard !parsing else { return }
        parsing = true
        defer { parsing = false }
        var blocked = false
        while !closeAfterReplies {
            guard slots.count < limits.pendingRequestsPerConnection, context?.channel.isWritable ?? false, !runningAlone else {
                blocked = true
                break
            }
            if let request = held {
                guard slots.isEmpty else {
                    blocked = true
                    break
                }
                held = nil
                start(request)
                continue
            }
            guard let outcome = parser.next(from: &inbound) else { break }
            switch outcome {
            case .request(let request):
                if Self.runsAlone(request) && !slots.isEmpty {
                    held = request
                } else {
                    start(request)
                }
            case .failure(let error, let close):
                let slot = firstSlot + slots.count
                slots.append(nil)
                BrokerStats.add(broker.stats.requests, 1)
                fail(slot, error)
                if close { closeAfterReplies = true }
            case .telnet(let answer):
                // An answer already complete, in a slot of its own so it keeps its place in the
                // reply order (RFC 860: a timing mark follows the replies before it).
                let slot = firstSlot + slots.count
                slots.append(nil)
                complete(slot, ByteBuffer(bytes: answer))
            }
        }
        if inbound.readableBytes == 0 {
            inbound.clear()
        } else if inbound.readerIndex > 64 * 1024 {
            inbound.discardReadBytes()
        }
        readPaused = blocked
        if !readPaused && readWanted, let context {
            readWanted = false
            context.read()
        }
    }

    private func start(_ request: Request) {
        let slot = firstSlot + slots.count
        slots.append(nil)
        BrokerStats.add(broker.stats.requests, 1)
        if Self.runsAlone(request) { runningAlone = true }
        dispatch(request, slot: slot)
    }

    /// Everything but `PUB` runs alone (see `parseBuffered`).
    static func runsAlone(_ request: Request) -> Bool {
        if case .publish = request { return false }
        return true
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        membership?.adapter.writabilityChanged(context.channel.isWritable)
        if context.channel.isWritable { parseBuffered() }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Replies

    /// Stores the reply of request `slot` and writes every reply that is now next in order.
    func complete(_ slot: Int, _ reply: ByteBuffer) {
        guard active else { return }
        store(.bytes(reply), at: slot)
        writeReadyReplies()
    }

    /// Answers a `PUB`. The reply is kept as its three values and rendered straight into
    /// `outbound` when its turn comes: no buffer or `String` per reply, the hot path of a
    /// pipelined producer.
    func completePublished(_ slot: Int, _ topic: TopicName, _ partition: PartitionID, offset: Offset?) {
        guard active else { return }
        store(.published(topic, partition, offset), at: slot)
        writeReadyReplies()
    }

    /// Answers a commit's worth of `PUB`s of one partition at once (see `PublishWaiter`).
    func completePublished(_ topic: TopicName, _ partition: PartitionID, _ results: [(token: Int, offset: Offset)]) {
        guard active else { return }
        for (slot, offset) in results { store(.published(topic, partition, offset), at: slot) }
        writeReadyReplies()
    }

    /// Puts the reply of request `slot` in its place (ignored when the slot is no longer
    /// pending, e.g. after the connection reset its queue).
    private func store(_ reply: ReadyReply, at slot: Int) {
        let index = slot - firstSlot
        guard index >= 0, index < slots.count else { return }
        precondition(slots[offset: index] == nil, "request \(slot) answered twice")
        slots[offset: index] = reply
    }

    /// This connection's `AppendWaiter`, made on first use.
    func publishWaiter(_ loop: EventLoop) -> PublishWaiter {
        if let waiter { return waiter }
        let made = PublishWaiter(handler: self, eventLoop: loop)
        waiter = made
        return made
    }

    /// Moves every reply that is now next in order to `outbound`, resumes parsing if it waited
    /// for replies, and flushes (at the end of the read cycle, or of the current task).
    private func writeReadyReplies() {
        while let first = slots.first, let ready = first {
            switch ready {
            case .bytes(var bytes): outbound.writeBuffer(&bytes)
            case .published(let topic, let partition, let offset):
                PublishReply.write(topic: topic, partition: partition, offset: offset, into: &outbound)
            }
            slots.removeFirst()
            if !afterReply.isEmpty, let action = afterReply.removeValue(forKey: firstSlot) { action() }
            firstSlot += 1
        }
        if slots.isEmpty { runningAlone = false }
        // Parsing only ever stops early when something blocks it (readPaused); otherwise it is
        // waiting for bytes, and channelRead resumes it.
        if !parsing && readPaused { parseBuffered() }
        if !inReadCycle {
            queueFlush()
        }
    }

    func fail(_ slot: Int, _ error: SpoolError) {
        BrokerStats.add(broker.stats.errors, 1)
        complete(slot, Reply.line(ReplyLine.error(error)))
    }

    func complete(_ slot: Int, line: String) {
        complete(slot, Reply.line(line))
    }

    /// Flushes once the task that completed this reply (and, typically, every other reply of the
    /// same group commit) has finished: one write syscall per batch instead of one per reply.
    private func queueFlush() {
        guard !flushQueued, let loop = context?.eventLoop else { return }
        flushQueued = true
        let bound = NIOLoopBound(self, eventLoop: loop)
        loop.execute {
            bound.value.flushQueued = false
            if !bound.value.inReadCycle { bound.value.flushOutbound() }
        }
    }

    private func flushOutbound() {
        guard let context, active else { return }
        if outbound.readableBytes > 0 {
            let bytes = outbound
            outbound = ByteBuffer()
            context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
        }
        if closeAfterReplies && slots.isEmpty {
            context.close(promise: nil)
        }
    }

    /// Writes pushed records (subscriptions) now, after the replies already queued. The future
    /// completes when the bytes are handed to the kernel, which is how a slow reader slows down
    /// its subscriptions instead of growing the broker's memory.
    func push(_ records: ByteBuffer) -> EventLoopFuture<Void>? {
        guard let context, active else { return nil }
        if outbound.readableBytes > 0 {
            let bytes = outbound
            outbound = ByteBuffer()
            context.write(wrapOutboundOut(bytes), promise: nil)
        }
        return context.writeAndFlush(wrapOutboundOut(records))
    }

    var eventLoop: EventLoop? { context?.eventLoop }

    /// After `QUIT`: read nothing more; close once every earlier reply is written.
    func closeAfterQuit() {
        closeAfterReplies = true
        if !inReadCycle { flushOutbound() }
    }
}

/// A reply that is ready but may have to wait for earlier ones.
private enum ReadyReply {
    case bytes(ByteBuffer)
    /// A `PUB` answer, rendered (`PublishReply`) when its turn comes.
    case published(TopicName, PartitionID, Offset?)
}
