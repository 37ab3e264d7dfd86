import NIOConcurrencyHelpers
import NIOCore

/// The two connections of one proxied link and the bytes held back for each direction.
final class ProxyPair: Sendable {
    // Strong: the proxy keeps its pairs until they close (`removed`), which breaks the cycle.
    let proxy: FaultProxy
    let inbound: Channel
    private let state = NIOLockedValueBox(State())

    struct State {
        var outbound: Channel?
        /// Bytes read while the other side was not connected yet, or while stalled.
        var held: [LinkDirection: [ByteBuffer]] = [:]
        var closed = false
    }

    init(proxy: FaultProxy, inbound: Channel) {
        self.proxy = proxy
        self.inbound = inbound
    }

    func connected(_ outbound: Channel) {
        let closed = state.withLockedValue { state -> Bool in
            state.outbound = outbound
            return state.closed
        }
        if closed {
            outbound.close(promise: nil)
            return
        }
        outbound.read()
        inbound.read()
        faultChanged()
    }

    /// The accepted side became active. The connection to the target can complete before that
    /// (a loopback connect may finish at once), and a `read()` issued while the accepted channel
    /// was not active yet is lost: without this second one it would never read a byte.
    func inboundActive() {
        if state.withLockedValue({ $0.outbound != nil && !$0.closed }) { inbound.read() }
    }

    /// The channel bytes of `direction` are written to (nil until connected).
    private func destination(_ direction: LinkDirection) -> Channel? {
        switch direction {
        case .clientToServer: state.withLockedValue { $0.outbound }
        case .serverToClient: inbound
        }
    }

    /// Bytes read in `direction`: forwarded, delayed, held or discarded per the current fault.
    func received(_ bytes: ByteBuffer, _ direction: LinkDirection) {
        let fault = proxy.fault(direction)
        let hold = state.withLockedValue { state -> Bool in
            // Closed (isolate or reset): nothing read after it passes, even before the channels
            // have finished closing, so a test that isolates a broker knows nothing it sends
            // from then on gets through.
            if state.closed { return true }
            if state.outbound == nil || fault == .stall || !(state.held[direction]?.isEmpty ?? true) {
                if fault == .discard {
                    self.proxy.discarded(bytes.readableBytes)
                } else {
                    state.held[direction, default: []].append(bytes)
                }
                return true
            }
            return false
        }
        if hold { return }
        deliver([bytes], direction, fault)
    }

    private func deliver(_ chunks: [ByteBuffer], _ direction: LinkDirection, _ fault: LinkFault) {
        guard let destination = destination(direction) else { return }
        switch fault {
        case .discard:
            proxy.discarded(chunks.reduce(0) { $0 + $1.readableBytes })
        case .stall:
            return
        case .pass:
            for chunk in chunks { write(chunk, to: destination, direction) }
        case .delay(let ms):
            destination.eventLoop.scheduleTask(in: .milliseconds(ms)) {
                for chunk in chunks { self.write(chunk, to: destination, direction) }
            }
        }
    }

    private func write(_ chunk: ByteBuffer, to destination: Channel, _ direction: LinkDirection) {
        proxy.forwarded(chunk.readableBytes, direction)
        destination.writeAndFlush(chunk, promise: nil)
    }

    /// The fault of a direction changed: release what a stall held, in order.
    func faultChanged() {
        for direction in LinkDirection.allCases {
            let fault = proxy.fault(direction)
            guard fault != .stall else { continue }
            let chunks = state.withLockedValue { state -> [ByteBuffer] in
                guard state.outbound != nil else { return [] }
                defer { state.held[direction] = [] }
                return state.held[direction] ?? []
            }
            if !chunks.isEmpty { deliver(chunks, direction, fault) }
        }
    }

    func heldBytes(_ direction: LinkDirection) -> Int {
        state.withLockedValue { $0.held[direction]?.reduce(0) { $0 + $1.readableBytes } ?? 0 }
    }

    func close() {
        let outbound = state.withLockedValue { state -> Channel? in
            state.closed = true
            return state.outbound
        }
        inbound.close(promise: nil)
        outbound?.close(promise: nil)
        proxy.removed(self)
    }
}

/// Reads one side of a pair and hands the bytes over; closing either side closes both.
final class ProxyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let pair: ProxyPair
    private let direction: LinkDirection

    init(pair: ProxyPair, direction: LinkDirection) {
        self.pair = pair
        self.direction = direction
    }

    func channelActive(context: ChannelHandlerContext) {
        if direction == .clientToServer { pair.inboundActive() }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pair.received(unwrapInboundIn(data), direction)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.read()
    }

    func channelInactive(context: ChannelHandlerContext) {
        pair.close()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        pair.close()
    }
}
