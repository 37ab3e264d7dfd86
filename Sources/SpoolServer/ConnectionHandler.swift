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
/// `pendingRequestsPerConnection` replies outstanding, `queuedBytesPerConnection` record bytes
/// not yet written, or a partition's queue full (`queuedBytesPerPartition`), the handler stops
/// parsing and stops reading the socket until that drains.
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
    /// Replies in request order, each waiting for its work or ready to write.
    private var slots = CircularBuffer<Slot>()
    /// The request number of `slots.first`.
    private var firstSlot = 0
    /// Replies ready to write, coalesced into one write per read cycle.
    private var outbound = ByteBuffer()
    private(set) var inReadCycle = false
    /// A flush of `outbound` is queued to run after the current event-loop task, so replies
    /// completed together (a group commit completes a whole batch in one task) go out in one write.
    private var flushQueued = false
    private var readPaused = false
    private var readWanted = false
    private(set) var phase = ConnectionPhase.new
    /// Record bytes this connection queued for group commit that are not written yet (all acks).
    private var queuedBytes = 0
    /// A PUB found its partition's queue full: nothing more is parsed until it has room.
    private var waitingForRoom = false
    var deadlines: ConnectionDeadlines
    /// The scheduled check of `deadlines`, and when it runs.
    var deadlineCheck: (task: Scheduled<Void>, atNs: UInt64)?
    /// The running long-poll FETCH's wait, ended early when the client half-closes.
    var fetchWait: WaitToken?
    var subscriptions: [TopicName: [any SubscriptionTail]] = [:]
    /// A request that must run alone, waiting for earlier ones to be answered.
    private var held: Request?
    /// A request that runs alone is in flight; nothing else starts until it is answered.
    private var runningAlone = false
    private var parsing = false
    private var waiter: PublishWaiter?
    /// Work to do right after a request's reply is written (a SUB starts pushing only after its OK).
    var afterReply: [Int: () -> Void] = [:]

    let groups: GroupManager
    /// Connections per client address (`connectionsPerAddress`), and this one's, once counted.
    private let addresses: AddressCounts
    private var countedAddress: String?
    /// This connection's consumer-group membership, if it joined one.
    var membership: GroupMembership?
    /// The brokers of the cluster (METADATA) and whether CREATE may run here.
    let cluster: ClusterView

    init(
        broker: Broker, groups: GroupManager, limits: SpoolLimits, startedNs: UInt64, logger: Logger,
        addresses: AddressCounts = AddressCounts(), cluster: ClusterView = .singleBroker()
    ) {
        self.cluster = cluster
        self.broker = broker
        self.addresses = addresses
        self.groups = groups
        self.limits = limits
        self.startedNs = startedNs
        self.logger = logger
        self.parser = RequestParser(limits: limits)
        self.deadlines = ConnectionDeadlines(limits: limits, nowNs: WallClock.monotonicNs())
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        phase = .open
        let open = broker.stats.connections.wrappingAdd(1, ordering: .relaxed).newValue
        BrokerStats.add(broker.stats.connectionsTotal, 1)
        var refusal: String?
        if open > limits.connections {
            refusal = "the broker has its limit of \(limits.connections) connections"
        } else if limits.connectionsPerAddress > 0, let address = context.channel.remoteAddress?.ipAddress {
            if addresses.open(address, limit: limits.connectionsPerAddress) {
                countedAddress = address
            } else {
                refusal = "\(address) has its limit of \(limits.connectionsPerAddress) connections"
            }
        }
        if let refusal {
            var reply = ByteBuffer()
            reply.writeLine(ReplyLine.error(SpoolError(.limitReached, refusal)))
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in bound.value.close(promise: nil) }
            phase = .refused
            return
        }
        checkDeadlines()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if phase.isActive {
            BrokerStats.add(broker.stats.connections, -1)
        }
        phase = .closed
        if let countedAddress {
            self.countedAddress = nil
            addresses.close(countedAddress)
        }
        deadlineCheck?.task.cancel()
        deadlineCheck = nil
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

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .inputClosed? = event as? ChannelEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // The client shut down its sending side (`nc -N`, `shutdown(SHUT_WR)`): what it sent is
        // all it will send. Run and answer it, in order; a long-poll FETCH answers now with what
        // it has (nothing more can be asked on this connection); then close.
        phase = phase.inputClosed()
        if let fetchWait {
            self.fetchWait = nil
            broker.cancelWait(fetchWait)
        }
        parseBuffered()
        if !inReadCycle { flushOutbound() }
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard phase == .open else { return }
        inReadCycle = true
        deadlines.activity(atNs: WallClock.monotonicNs())
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
        while phase.parsesInput {
            guard slots.count < limits.pendingRequestsPerConnection, context?.channel.isWritable ?? false, !runningAlone,
                queuedBytes < limits.queuedBytesPerConnection, !waitingForRoom
            else {
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
            // A telnet answer comes from the middle of a line being typed: the line is still
            // partial, and a client cannot keep one open forever by sending telnet commands.
            if case .telnet = outcome {} else { deadlines.noPartialRequest() }
            switch outcome {
            case .request(let request):
                if Self.runsAlone(request) && !slots.isEmpty {
                    held = request
                } else {
                    start(request)
                }
            case .failure(let error, let close):
                let slot = firstSlot + slots.count
                slots.append(.waiting(queuedBytes: 0))
                BrokerStats.add(broker.stats.requests, 1)
                fail(slot, error)
                if close { phase = phase.close() }
            case .telnet(let answer):
                // An answer already complete, in a slot of its own so it keeps its place in the
                // reply order (RFC 860: a timing mark follows the replies before it).
                let slot = firstSlot + slots.count
                slots.append(.waiting(queuedBytes: 0))
                complete(slot, ByteBuffer(bytes: answer))
            }
        }
        // The client is slow only when the broker is not the one holding its request back.
        if blocked || (inbound.readableBytes == 0 && parser.isBetweenRequests) {
            deadlines.noPartialRequest()
        } else if phase == .open {
            deadlines.partialRequest(atNs: WallClock.monotonicNs())
            checkDeadlines()
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
        // After a half-close, the end of the buffered input may come with no reply to write (the
        // last request was answered before something blocked parsing): close-if-done anyway.
        if phase == .inputEnded && !readPaused && slots.isEmpty && !inReadCycle { queueFlush() }
    }

    private func start(_ request: Request) {
        let slot = firstSlot + slots.count
        // A PUB that waits for its commit holds its bytes in the queue until its reply (acks=none
        // records are counted by `queued(noAckBytes:)` instead: their reply does not wait).
        var bytes = 0
        if case .publish(let publish) = request, publish.acks != .none {
            bytes = publish.value.readableBytes + (publish.key?.readableBytes ?? 0)
        }
        queuedBytes += bytes
        slots.append(.waiting(queuedBytes: bytes))
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
        guard phase.isActive else { return }
        store(.bytes(reply), at: slot)
        writeReadyReplies()
    }

    /// Answers a `PUB`. The reply is kept as its three values and rendered straight into
    /// `outbound` when its turn comes: no buffer or `String` per reply, the hot path of a
    /// pipelined producer.
    func completePublished(_ slot: Int, _ topic: TopicName, _ partition: PartitionID, offset: Offset?) {
        guard phase.isActive else { return }
        store(.published(topic, partition, offset), at: slot)
        writeReadyReplies()
    }

    /// Answers a commit's worth of `PUB`s of one partition at once (see `PublishWaiter`).
    /// Negative tokens are this connection's acks=none records (`PublishWaiter.noAckToken`):
    /// already answered, they only give their bytes back.
    func completePublished(_ topic: TopicName, _ partition: PartitionID, _ results: [(token: Int, offset: Offset)]) {
        guard phase.isActive else { return }
        for (token, offset) in results {
            if let bytes = PublishWaiter.noAckBytes(token) {
                releaseQueued(bytes)
            } else {
                store(.published(topic, partition, offset), at: token)
            }
        }
        writeReadyReplies()
    }

    /// An acks=none record of `bytes` was queued; `completePublished` or `appendFailed` gives
    /// them back once it is written or failed.
    func queued(noAckBytes bytes: Int) {
        queuedBytes += bytes
    }

    /// Bytes of this connection's records left the partition queues; parsing resumes if they held
    /// it back.
    func releaseQueued(_ bytes: Int) {
        guard bytes > 0 else { return }
        queuedBytes -= bytes
        precondition(queuedBytes >= 0, "more bytes released than queued")
        if !parsing && readPaused { parseBuffered() }
    }

    /// A PUB's partition has reached `queuedBytesPerPartition`: parse nothing more until it has
    /// room (the socket stops being read, which slows the producer down).
    func waitForRoom(_ topic: TopicName, _ partition: PartitionID) {
        guard let loop = eventLoop, !waitingForRoom else { return }
        waitingForRoom = true
        let bound = NIOLoopBound(self, eventLoop: loop)
        broker.waitForRoom(topic: topic, partition: partition, on: loop).whenComplete { _ in
            bound.value.waitingForRoom = false
            if !bound.value.parsing { bound.value.parseBuffered() }
        }
    }

    /// Puts the reply of request `slot` in its place (ignored when the slot is no longer
    /// pending, e.g. after the connection reset its queue).
    private func store(_ reply: ReadyReply, at slot: Int) {
        let index = slot - firstSlot
        guard index >= 0, index < slots.count else { return }
        guard case .waiting(let bytes) = slots[offset: index] else { preconditionFailure("request \(slot) answered twice") }
        slots[offset: index] = .ready(reply)
        queuedBytes -= bytes
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
        while let first = slots.first, case .ready(let ready) = first {
            switch ready {
            case .bytes(var bytes): outbound.writeBuffer(&bytes)
            case .published(let topic, let partition, let offset):
                PublishReply.write(topic: topic, partition: partition, offset: offset, into: &outbound)
            }
            slots.removeFirst()
            if !afterReply.isEmpty, let action = afterReply.removeValue(forKey: firstSlot) { action() }
            firstSlot += 1
        }
        if slots.isEmpty {
            runningAlone = false
            deadlines.activity(atNs: WallClock.monotonicNs())
        }
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

    func flushOutbound() {
        guard let context, phase.isActive else { return }
        if outbound.readableBytes > 0 {
            let bytes = outbound
            outbound = ByteBuffer()
            context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
        }
        guard slots.isEmpty else { return }
        // After a half-close, also every request still buffered must have run (an unfinished one
        // at the very end never will: it is dropped).
        if phase.closesAfterReplies || (phase == .inputEnded && held == nil && !readPaused) {
            context.close(promise: nil)
        }
    }

    /// Writes pushed records (subscriptions) now, after the replies already queued. The future
    /// completes when the bytes are handed to the kernel, which is how a slow reader slows down
    /// its subscriptions instead of growing the broker's memory.
    func push(_ records: ByteBuffer) -> EventLoopFuture<Void>? {
        guard let context, phase.isActive else { return nil }
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
        phase = phase.close()
        if !inReadCycle { flushOutbound() }
    }

    /// Answers a request that is not one (a timeout) in the next slot, then closes.
    func failAndClose(_ error: SpoolError) {
        let slot = firstSlot + slots.count
        slots.append(.waiting(queuedBytes: 0))
        phase = phase.close()
        fail(slot, error)
    }

    /// Nothing is running or owed, and nothing is subscribed: the idle timeout may apply.
    var mayBeIdle: Bool {
        slots.isEmpty && held == nil && subscriptions.isEmpty && membership == nil
    }
}

/// A request's place in the reply order.
private enum Slot {
    /// Its work is running; a PUB waiting for its commit holds `queuedBytes` of the connection's
    /// queue until then.
    case waiting(queuedBytes: Int)
    case ready(ReadyReply)
}

/// A reply that is ready but may have to wait for earlier ones.
private enum ReadyReply {
    case bytes(ByteBuffer)
    /// A `PUB` answer, rendered (`PublishReply`) when its turn comes.
    case published(TopicName, PartitionID, Offset?)
}
