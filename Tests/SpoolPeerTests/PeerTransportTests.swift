import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Raft
import SpoolCluster
import SpoolCore
import SpoolFaultProxy
import SpoolPeer
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Peer transport over loopback", .timeLimit(.minutes(1)))
struct PeerTransportTests {
    @Test func manyGroupsShareOneConnectionBothWays() async throws {
        try await PeerTestCluster.with(nodes: 3) { cluster in
            try await cluster.waitConnected()
            let heartbeats = (0..<500).map { i in
                AddressedMessage(
                    group: RaftGroupID(topic: TopicID(UInt32(1 + i / 8)), partition: PartitionID(i % 8)),
                    message: Message(kind: .heartbeat, from: 1, to: 2, term: 3, commit: LogIndex(UInt64(i))))
            }
            cluster.transports[1]!.send(heartbeats, to: 2)
            try await eventually("500 heartbeats at node 2") { cluster.received(at: 2).count == 500 }
            #expect(cluster.received(at: 2).map(\.1) == heartbeats, "order and content kept")
            #expect(cluster.received(at: 2).allSatisfy { $0.0 == 1 })
            // One send call, one frame (the whole batch fits).
            #expect(cluster.transports[2]!.stats.framesReceived.load(ordering: .relaxed) == 1)

            // Node 2 answers over the connection node 1 dialed: it opens none of its own.
            let answer = AddressedMessage(group: .metadata, message: Message(kind: .heartbeatResponse, from: 2, to: 1, term: 3))
            cluster.transports[2]!.send([answer], to: 1)
            try await eventually("the answer at node 1") { cluster.received(at: 1).map(\.1) == [answer] }
            for node in [1, 2, 3] as [NodeID] {
                #expect(cluster.transports[node]!.stats.connectionsEstablished.load(ordering: .relaxed) == 2, "node \(node)")
            }
            #expect(cluster.transports[2]!.clientAddress(of: 1) == "127.0.0.1:7001")
        }
    }

    @Test func aBrokerOfAnotherClusterOrAnUnknownIdIsRefused() async throws {
        try await PeerTestCluster.with(nodes: 2) { cluster in
            try await cluster.waitConnected()
            let target = cluster.transports[2]!
            let before = target.stats.connectionsRejected.load(ordering: .relaxed)
            let address = PeerAddress(host: "127.0.0.1", port: target.localAddress!.port!)
            let strangers = [
                PeerTransportConfig(node: 1, clusterID: "another", clientAddress: "x", listen: .loopbackAnyPort, peers: [2: address]),
                PeerTransportConfig(node: 9, clusterID: PeerTestCluster.clusterID, clientAddress: "x", listen: .loopbackAnyPort, peers: [2: address]),
            ]
            for config in strangers {
                let stranger = try await PeerTransport.start(config: config, group: cluster.group, logger: PeerTestCluster.logger) { _, _ in }
                stranger.send([AddressedMessage(group: .metadata, message: Message(kind: .heartbeat, from: config.node, to: 2))], to: 2)
                try await eventually("node 2 refuses node \(config.node) of \(config.clusterID)") {
                    target.stats.connectionsRejected.load(ordering: .relaxed) > before
                }
                #expect(!stranger.isConnected(2))
                await stranger.shutdown()
            }
            #expect(cluster.received(at: 2).isEmpty, "nothing from a refused peer is delivered")
            #expect(cluster.transports[1]!.isConnected(2), "the real node 1 keeps its connection")
        }
    }

    /// A hand-made client: a real hello, then bytes that break the protocol. Each closes the
    /// connection, nothing is delivered, and the real peer reconnects afterwards.
    @Test func badFramesCloseTheConnectionAndDeliverNothing() async throws {
        try await PeerTestCluster.with(nodes: 2) { cluster in
            let port = cluster.transports[2]!.localAddress!.port!
            let hello = PeerFrameEncoder.encode(.hello(PeerHello(clusterID: PeerTestCluster.clusterID, node: 1, clientAddress: "raw")))
            let stray = PeerFrameEncoder.encode(
                .raft([AddressedMessage(group: .metadata, message: Message(kind: .heartbeat, from: 3, to: 2))]))
            var corrupt = PeerFrameEncoder.encode(
                .raft([AddressedMessage(group: .metadata, message: Message(kind: .heartbeat, from: 1, to: 2))]))
            corrupt.setInteger(UInt8(0xEE), at: corrupt.writerIndex - 1)
            var oversized = ByteBuffer()
            oversized.writeInteger(UInt32(1 << 30))
            oversized.writeInteger(UInt32(0))
            var beforeHello = PeerFrameEncoder.encode(.raft([]))
            for (name, after) in [("a bad checksum", corrupt), ("a message from another node", stray), ("an oversized length", oversized)] {
                let socket = try TestSocket(port: port)
                defer { socket.close() }
                try socket.send(hello)
                #expect(socket.readsSomething(), "node 2 answers the hello")
                try socket.send(after)
                #expect(socket.readsToEnd(), "\(name): node 2 closes the connection")
            }
            let socket = try TestSocket(port: port)
            try socket.send(beforeHello.readBytes(length: beforeHello.readableBytes)!)
            #expect(socket.readsToEnd(), "a Raft frame before the hello closes the connection")
            socket.close()
            #expect(cluster.received(at: 2).isEmpty)
            try await cluster.waitConnected()
        }
    }

    @Test func aPeerThatRestartsIsDialedAgain() async throws {
        try await PeerTestCluster.with(nodes: 2) { cluster in
            try await cluster.waitConnected()
            try await cluster.restart(2)
            try await eventually("node 1 reconnects") { cluster.transports[1]!.isConnected(2) && cluster.transports[2]!.isConnected(1) }
            let message = AddressedMessage(group: .metadata, message: Message(kind: .vote, from: 1, to: 2, term: 7))
            cluster.transports[1]!.send([message], to: 2)
            try await eventually("the vote after the restart") { cluster.received(at: 2).map(\.1).contains(message) }
        }
    }

    /// A connection whose peer never says hello is closed after `helloTimeoutMs`, on either end:
    /// the acceptor drops a silent stranger, the dialer gives up on a silent peer and dials again.
    @Test func aSilentConnectionIsClosedAfterTheHelloTimeout() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // A "peer" that accepts and never answers, counting the connections it gets.
        let accepted = NIOLockedValueBox(0)
        let silent = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                accepted.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let config = PeerTransportConfig(
            node: 1, clusterID: PeerTestCluster.clusterID, clientAddress: "x", listen: .loopbackAnyPort,
            peers: [2: PeerAddress(host: "127.0.0.1", port: silent.localAddress!.port!)], helloTimeoutMs: 200)
        let transport = try await PeerTransport.start(config: config, group: group, logger: PeerTestCluster.logger) { _, _ in }
        do {
            // Dialer: the silent peer is dialed again and again, never counted as connected.
            try await eventually(timeout: .seconds(10), "node 1 to dial its silent peer again") { accepted.withLockedValue { $0 } >= 3 }
            #expect(!transport.isConnected(2))

            // Acceptor: a client that connects and sends nothing is closed.
            let before = transport.stats.connectionsRejected.load(ordering: .relaxed)
            let stranger = try TestSocket(port: transport.localAddress!.port!)
            defer { stranger.close() }
            #expect(stranger.readsToEnd(), "closed within the socket's 5 s receive timeout")
            #expect(transport.stats.connectionsRejected.load(ordering: .relaxed) > before)
        } catch {
            await transport.shutdown()
            try? await silent.close()
            try? await group.shutdownGracefully()
            throw error
        }
        await transport.shutdown()
        try? await silent.close()
        try? await group.shutdownGracefully()
    }

    /// A peer that is down costs at most `queuedBytesPerPeer`: the rest is dropped and counted.
    @Test func messagesForAnUnreachablePeerAreBounded() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let config = PeerTransportConfig(
            node: 1, clusterID: PeerTestCluster.clusterID, clientAddress: "x", listen: .loopbackAnyPort,
            peers: [2: PeerAddress(host: "127.0.0.1", port: 1)], queuedBytesPerPeer: 64 * 1024)
        let transport = try await PeerTransport.start(config: config, group: group, logger: PeerTestCluster.logger) { _, _ in }
        let entry = Entry(index: 1, term: 1, payload: [UInt8](repeating: 1, count: 1000))
        for _ in 0..<200 {
            transport.send([AddressedMessage(group: .metadata, message: Message(kind: .append, from: 1, to: 2, entries: [entry]))], to: 2)
        }
        let dropped = transport.stats.messagesDropped.load(ordering: .relaxed)
        await transport.shutdown()
        try? await group.shutdownGracefully()
        #expect(dropped >= 130 && dropped < 200, "dropped \(dropped) of 200 messages of ~1.1 KB over a 64 KiB queue")
    }
}

extension PeerAddress {
    static let loopbackAnyPort = PeerAddress(host: "127.0.0.1", port: 0)
}

/// N transports on 127.0.0.1, started from the highest id down so every dialer finds its
/// (higher-numbered) peers already listening on their free ports.
final class PeerTestCluster: Sendable {
    static let clusterID = "test-cluster"
    static let logger: Logger = {
        var logger = Logger(label: "peer-test")
        logger.logLevel = .critical
        return logger
    }()

    let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    private let state = NIOLockedValueBox<(transports: [NodeID: PeerTransport], addresses: [NodeID: PeerAddress])>(([:], [:]))
    private let inbox = NIOLockedValueBox<[NodeID: [(NodeID, AddressedMessage)]]>([:])
    let nodes: [NodeID]

    var transports: [NodeID: PeerTransport] { state.withLockedValue { $0.transports } }

    private init(nodes: Int) { self.nodes = (1...nodes).map { NodeID(UInt64($0)) } }

    static func start(nodes: Int) async throws -> PeerTestCluster {
        let cluster = PeerTestCluster(nodes: nodes)
        for node in cluster.nodes.reversed() { try await cluster.startNode(node, port: 0) }
        return cluster
    }

    func startNode(_ node: NodeID, port: Int) async throws {
        let addresses = state.withLockedValue { $0.addresses }
        var peers: [NodeID: PeerAddress] = [:]
        for other in nodes where other != node { peers[other] = addresses[other] ?? PeerAddress(host: "127.0.0.1", port: 1) }
        let config = PeerTransportConfig(
            node: node, clusterID: Self.clusterID, clientAddress: "127.0.0.1:\(7000 + node.rawValue)",
            listen: PeerAddress(host: "127.0.0.1", port: port), peers: peers)
        let transport = try await PeerTransport.start(config: config, group: group, logger: Self.logger) { [inbox] from, messages in
            inbox.withLockedValue { $0[node, default: []].append(contentsOf: messages.map { (from, $0) }) }
        }
        state.withLockedValue {
            $0.transports[node] = transport
            $0.addresses[node] = PeerAddress(host: "127.0.0.1", port: transport.localAddress!.port!)
        }
    }

    func restart(_ node: NodeID) async throws {
        let (transport, address) = state.withLockedValue { ($0.transports[node]!, $0.addresses[node]!) }
        await transport.shutdown()
        try await startNode(node, port: address.port)
    }

    func received(at node: NodeID) -> [(NodeID, AddressedMessage)] { inbox.withLockedValue { $0[node] ?? [] } }

    func waitConnected() async throws {
        try await eventually("every pair connected") {
            nodes.allSatisfy { a in nodes.allSatisfy { b in a == b || transports[a]!.isConnected(b) } }
        }
    }

    /// Runs `body` on a started cluster and stops it afterwards, also when `body` throws.
    static func with(nodes: Int, _ body: (PeerTestCluster) async throws -> Void) async throws {
        let cluster = try await start(nodes: nodes)
        do {
            try await body(cluster)
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    func stop() async {
        for transport in transports.values { await transport.shutdown() }
        try? await group.shutdownGracefully()
    }
}
