import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP proxy on 127.0.0.1 that a test places between two brokers, to cut, delay or stall the
/// link one way or both without any privileges (issue 10 and 12's network faults).
///
/// Every accepted connection gets its own connection to the target; bytes flow through two
/// handlers that consult the current fault of their direction for each read. `isolate()` closes
/// every connection and refuses new ones (accepting and closing at once) until `heal()`.
public final class FaultProxy: Sendable {
    public let targetHost: String
    public let targetPort: Int
    private let group: EventLoopGroup
    private let listener: Channel
    let state = NIOLockedValueBox(State())

    struct State {
        var faults: [LinkDirection: LinkFault] = [.clientToServer: .pass, .serverToClient: .pass]
        var isolated = false
        var pairs: [ObjectIdentifier: ProxyPair] = [:]
        var connectionsAccepted = 0
        var bytesForwarded: [LinkDirection: Int] = [.clientToServer: 0, .serverToClient: 0]
        var bytesDiscarded = 0
    }

    /// The port to dial instead of the target's.
    /// The port it listens on (kept after `shutdown`, when the listener has no address).
    public let port: Int

    private init(targetHost: String, targetPort: Int, group: EventLoopGroup, listener: Channel) {
        self.targetHost = targetHost
        self.targetPort = targetPort
        self.group = group
        self.listener = listener
        self.port = listener.localAddress?.port ?? 0
    }

    /// Listens on 127.0.0.1 (a free port) and forwards to `targetHost:targetPort`.
    public static func start(
        targetHost: String = "127.0.0.1", targetPort: Int, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> FaultProxy {
        let holder = NIOLockedValueBox<FaultProxy?>(nil)
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { channel in
                guard let proxy = holder.withLockedValue({ $0 }) else { return channel.close() }
                return proxy.accepted(channel)
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let proxy = FaultProxy(targetHost: targetHost, targetPort: targetPort, group: group, listener: listener)
        holder.withLockedValue { $0 = proxy }
        return proxy
    }

    /// Sets what happens to the bytes of `direction` from now on.
    public func set(_ fault: LinkFault, _ direction: LinkDirection) {
        let pairs = state.withLockedValue { state -> [ProxyPair] in
            state.faults[direction] = fault
            return Array(state.pairs.values)
        }
        // A stalled direction may have bytes to release.
        for pair in pairs { pair.faultChanged() }
    }

    /// Sets both directions.
    public func setBoth(_ fault: LinkFault) {
        for direction in LinkDirection.allCases { set(fault, direction) }
    }

    /// Closes every proxied connection and refuses new ones until `heal()`. Nothing read on a
    /// closed connection passes once this returns, even while its channels are still closing.
    public func isolate() {
        let pairs = state.withLockedValue { state -> [ProxyPair] in
            state.isolated = true
            return Array(state.pairs.values)
        }
        for pair in pairs { pair.close() }
    }

    /// Ends `isolate` and sets both directions back to `pass`.
    public func heal() {
        state.withLockedValue { $0.isolated = false }
        setBoth(.pass)
    }

    /// Closes every proxied connection once (a reset link); new ones are accepted as usual.
    public func resetConnections() {
        for pair in state.withLockedValue({ Array($0.pairs.values) }) { pair.close() }
    }

    public var openConnections: Int { state.withLockedValue { $0.pairs.count } }
    public var connectionsAccepted: Int { state.withLockedValue { $0.connectionsAccepted } }
    public func bytesForwarded(_ direction: LinkDirection) -> Int { state.withLockedValue { $0.bytesForwarded[direction] ?? 0 } }

    /// Bytes discarded so far (`discard`), both directions together.
    public var bytesDiscarded: Int { state.withLockedValue { $0.bytesDiscarded } }

    /// Bytes a stall holds now in `direction`, over every connection.
    public func bytesHeld(_ direction: LinkDirection) -> Int {
        state.withLockedValue { Array($0.pairs.values) }.reduce(0) { $0 + $1.heldBytes(direction) }
    }

    func discarded(_ bytes: Int) { state.withLockedValue { $0.bytesDiscarded += bytes } }

    func fault(_ direction: LinkDirection) -> LinkFault { state.withLockedValue { $0.faults[direction] ?? .pass } }

    func forwarded(_ bytes: Int, _ direction: LinkDirection) {
        state.withLockedValue { $0.bytesForwarded[direction, default: 0] += bytes }
    }

    func removed(_ pair: ProxyPair) {
        _ = state.withLockedValue { $0.pairs.removeValue(forKey: ObjectIdentifier(pair)) }
    }

    public func shutdown() async {
        try? await listener.close()
        for pair in state.withLockedValue({ Array($0.pairs.values) }) { pair.close() }
    }

    private func accepted(_ inbound: Channel) -> EventLoopFuture<Void> {
        let isolated = state.withLockedValue { state -> Bool in
            state.connectionsAccepted += 1
            return state.isolated
        }
        if isolated { return inbound.close() }
        let pair = ProxyPair(proxy: self, inbound: inbound)
        state.withLockedValue { $0.pairs[ObjectIdentifier(pair)] = pair }
        ClientBootstrap(group: inbound.eventLoop)
            .channelOption(.autoRead, value: false)
            .channelInitializer { outbound in
                outbound.eventLoop.makeCompletedFuture {
                    try outbound.pipeline.syncOperations.addHandler(ProxyHandler(pair: pair, direction: .serverToClient))
                }
            }
            .connect(host: targetHost, port: targetPort)
            .whenComplete { result in
                switch result {
                case .success(let outbound): pair.connected(outbound)
                case .failure: pair.close()
                }
            }
        return inbound.eventLoop.makeCompletedFuture {
            try inbound.pipeline.syncOperations.addHandler(ProxyHandler(pair: pair, direction: .clientToServer))
        }
    }
}
