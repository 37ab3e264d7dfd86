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
import SpoolReplication
import Testing

/// N brokers in this process, one Raft group (one partition replica each): per broker a
/// `PeerTransport` on 127.0.0.1 (a free port), a `ReplicaRouter` and a `ReplicaDriver` over its
/// own partition file in a temporary folder. Every peer link goes through a `FaultProxy`
/// (the dialer, the lower id, dials the proxy), so a test can isolate a broker and heal it.
/// `with` stops everything and removes the folder on every path.
final class ReplicaTestCluster: Sendable {
    static let group = RaftGroupID(topic: TopicID(1), partition: PartitionID(0))
    static let clusterID = "replica-test"
    static let logger: Logger = {
        var logger = Logger(label: "replica-test")
        logger.logLevel = .critical
        return logger
    }()

    let ids: [NodeID]
    let folder: String
    let proposalTimeoutTicks: Int
    /// True: the group is the cluster's metadata group, each broker's replica a `MetadataReplica`.
    let metadataGroup: Bool
    /// True: groups quiesce when idle (`ReplicaConfig.quiesceWhenIdle`), tickers watch liveness.
    let quiesce: Bool
    /// The voters' election timeout, in ticks (nil: RaftConfig's default).
    let electionTimeoutTicks: Int?
    let loops = MultiThreadedEventLoopGroup(numberOfThreads: 2)
    let pool = NIOThreadPool(numberOfThreads: 2)
    private let state = NIOLockedValueBox(State())

    struct Broker {
        var router: ReplicaRouter
        var transport: PeerTransport
        var driver: ReplicaDriver
        var metadata: MetadataReplica?
        var ticker: ReplicaTicker
        var port: Int
    }

    struct State {
        var brokers: [NodeID: Broker] = [:]
        var ports: [NodeID: Int] = [:]
        /// (dialer, acceptor) → the proxy between them.
        var proxies: [[NodeID]: FaultProxy] = [:]
    }

    private init(nodes: Int, folder: String, proposalTimeoutTicks: Int, metadataGroup: Bool, quiesce: Bool, electionTimeoutTicks: Int?) {
        self.electionTimeoutTicks = electionTimeoutTicks
        ids = (1 ... nodes).map { NodeID(UInt64($0)) }
        self.folder = folder
        self.proposalTimeoutTicks = proposalTimeoutTicks
        self.metadataGroup = metadataGroup
        self.quiesce = quiesce
        pool.start()
    }

    static func with(
        nodes: Int, proposalTimeoutTicks: Int = 200, metadataGroup: Bool = false, quiesce: Bool = false, electionTimeoutTicks: Int? = nil,
        _ body: (ReplicaTestCluster) async throws -> Void
    ) async throws {
        try await TemporaryFolder.with { folder in
            let cluster = ReplicaTestCluster(
                nodes: nodes, folder: folder, proposalTimeoutTicks: proposalTimeoutTicks, metadataGroup: metadataGroup, quiesce: quiesce,
                electionTimeoutTicks: electionTimeoutTicks)
            do {
                // Highest id first: each dialer finds its (higher) peers listening, and its proxies
                // know where to forward.
                for id in cluster.ids.reversed() { try await cluster.start(id) }
                try await cluster.waitConnected()
                try await body(cluster)
            } catch {
                await cluster.shutdown()
                throw error
            }
            await cluster.shutdown()
        }
    }

    func path(_ id: NodeID) -> String { "\(folder)/replica-\(id.rawValue).sqlite3" }

    func driver(_ id: NodeID) -> ReplicaDriver { state.withLockedValue { $0.brokers[id]!.driver } }

    /// Broker `id`'s metadata replica (a cluster started with `metadataGroup`).
    func metadata(_ id: NodeID) -> MetadataReplica { state.withLockedValue { $0.brokers[id]!.metadata! } }

    func isRunning(_ id: NodeID) -> Bool { state.withLockedValue { $0.brokers[id] != nil } }

    var running: [NodeID] { ids.filter(isRunning) }

    /// Starts broker `id` (again, on its old port and file, after `stop`).
    func start(_ id: NodeID) async throws {
        var peers: [NodeID: PeerAddress] = [:]
        for other in ids where other != id {
            if id < other {
                let proxy = try await proxy(from: id, to: other)
                peers[other] = PeerAddress(host: "127.0.0.1", port: proxy.port)
            } else {
                peers[other] = PeerAddress(host: "127.0.0.1", port: 1)  // never dialed: the lower id dials
            }
        }
        let port = state.withLockedValue { $0.ports[id] } ?? 0
        let router = ReplicaRouter()
        // Liveness scaled to the tests' 25 ms tick (an election timeout of 250-500 ms), with room
        // for suites running in parallel on 2 cores.
        let config = PeerTransportConfig(
            node: id, clusterID: Self.clusterID, clientAddress: "127.0.0.1:\(7000 + id.rawValue)",
            listen: PeerAddress(host: "127.0.0.1", port: port), peers: peers, keepaliveIntervalMs: 25, livenessTimeoutMs: 300)
        let transport = try await PeerTransport.start(config: config, group: loops, logger: Self.logger) { peer, messages in
            router.receive(from: peer, messages)
        }
        router.attach(transport)
        let ticker = ReplicaTicker(eventLoop: loops.next(), tickIntervalMs: testTickIntervalMs)
        if quiesce { ticker.watchPeers { router.peerLiveness() } }
        let driver: ReplicaDriver
        var metadata: MetadataReplica?
        do {
            var config = testReplicaConfig(id: id, voters: ids, proposalTimeoutTicks: proposalTimeoutTicks)
            config.quiesceWhenIdle = quiesce
            if let electionTimeoutTicks { config.raft.electionTimeoutTicks = electionTimeoutTicks }
            if metadataGroup {
                metadata = try await MetadataReplica.open(path: path(id), config: config, pool: pool, ticker: ticker, sender: router)
                driver = metadata!.driver
            } else {
                driver = try await ReplicaDriver.open(path: path(id), group: Self.group, config: config, pool: pool, ticker: ticker, sender: router)
            }
        } catch {
            ticker.stop()
            await transport.shutdown()
            throw error
        }
        router.register(driver)
        let bound = transport.localAddress!.port!
        state.withLockedValue {
            $0.brokers[id] = Broker(router: router, transport: transport, driver: driver, metadata: metadata, ticker: ticker, port: bound)
            $0.ports[id] = bound
        }
    }

    /// Stops broker `id`'s driver (its file closed) and its transport, as a broker that goes away.
    func stop(_ id: NodeID) async {
        guard let broker = state.withLockedValue({ $0.brokers.removeValue(forKey: id) }) else { return }
        broker.router.unregister(broker.driver.group)
        await broker.driver.stop()
        broker.ticker.stop()
        await broker.transport.shutdown()
    }

    /// Stops only broker `id`'s replica (its file closed); its transport stays up, as a broker
    /// whose partition went offline.
    func stopReplica(_ id: NodeID) async {
        guard let broker = state.withLockedValue({ $0.brokers[id] }) else { return }
        broker.router.unregister(broker.driver.group)
        await broker.driver.stop()
    }

    /// Holds every byte on `id`'s links (connections stay open: a stopped process) until `heal`.
    func stall(_ id: NodeID) {
        for (pair, proxy) in state.withLockedValue({ $0.proxies }) where pair.contains(id) { proxy.setBoth(.stall) }
    }

    /// Rounds of broker `id`'s Raft clock so far (each a tick for every group not quiesced).
    func rounds(_ id: NodeID) -> Int { state.withLockedValue { $0.brokers[id]!.ticker }.counts.rounds }

    /// Rounds of broker `id`'s clock in which a peer's liveness changed.
    func livenessChanges(_ id: NodeID) -> Int { state.withLockedValue { $0.brokers[id]!.ticker }.counts.livenessChanges }

    /// Holds every byte `id` sends (what it receives still arrives) until `heal`: a one-way cut.
    func stallFrom(_ id: NodeID) {
        for (pair, proxy) in state.withLockedValue({ $0.proxies }) where pair.contains(id) {
            proxy.set(.stall, pair[0] == id ? .clientToServer : .serverToClient)
        }
    }

    /// Messages broker `id`'s transport has sent so far.
    func messagesSent(_ id: NodeID) -> Int {
        state.withLockedValue { $0.brokers[id]!.transport }.stats.messagesSent.load(ordering: .relaxed)
    }

    /// Closes every link of `id` and refuses new ones until `heal`.
    func isolate(_ id: NodeID) {
        for (pair, proxy) in state.withLockedValue({ $0.proxies }) where pair.contains(id) { proxy.isolate() }
    }

    func heal() {
        for proxy in state.withLockedValue({ $0.proxies.values }) { proxy.heal() }
    }

    func status(_ id: NodeID) -> ReplicaStatus { driver(id).status }

    /// The one leader every running broker in `among` agrees on, if there is one.
    func currentLeader(among: [NodeID]? = nil) -> NodeID? {
        let members = among ?? running
        let leaders = members.filter { status($0).role == .leader }
        guard leaders.count == 1, let leader = leaders.first else { return nil }
        let term = status(leader).term
        return members.allSatisfy { status($0).leader == leader && status($0).term == term } ? leader : nil
    }

    func waitForLeader(among: [NodeID]? = nil, within timeout: Duration = .seconds(10)) async throws -> NodeID {
        do {
            try await eventually(timeout: timeout, "one leader followed by \(among ?? running)") { currentLeader(among: among) != nil }
        } catch {
            Issue.record("statuses: \(describe())")
            throw error
        }
        return currentLeader(among: among)!
    }

    /// Waits until every broker in `among` has committed through `highWatermark` offsets.
    func waitForHighWatermark(_ highWatermark: Offset, among: [NodeID]? = nil) async throws {
        let members = among ?? running
        do {
            try await eventually("high watermark \(highWatermark) on \(members)") {
                members.allSatisfy { status($0).highWatermark == highWatermark }
            }
        } catch {
            Issue.record("statuses: \(describe())")
            throw error
        }
    }

    /// Waits until every pair of running brokers has its connection up.
    func waitConnected() async throws {
        let members = running
        let transports = state.withLockedValue { $0.brokers.mapValues(\.transport) }
        do {
            try await eventually("every link of \(members) up") {
                members.allSatisfy { a in members.allSatisfy { b in a == b || transports[a]!.isConnected(b) } }
            }
        } catch {
            Issue.record("links: \(describe())")
            throw error
        }
    }

    /// Every running replica's status and links, for failure messages.
    func describe() -> String {
        state.withLockedValue { state in
            state.brokers.sorted { $0.key < $1.key }.map { id, broker in
                let links = ids.filter { $0 != id }.map { "\($0):\(broker.transport.isConnected($0) ? "up" : "down")" }.joined(separator: ",")
                return "\(id): \(broker.driver.status) links=\(links) router=\(broker.router.counts)"
            }.joined(separator: "; ")
        }
    }

    private func proxy(from dialer: NodeID, to acceptor: NodeID) async throws -> FaultProxy {
        if let existing = state.withLockedValue({ $0.proxies[[dialer, acceptor]] }) { return existing }
        let target = state.withLockedValue { $0.ports[acceptor] }!
        let proxy = try await FaultProxy.start(targetPort: target, group: loops)
        state.withLockedValue { $0.proxies[[dialer, acceptor]] = proxy }
        return proxy
    }

    private func shutdown() async {
        for id in ids { await stop(id) }
        for proxy in state.withLockedValue({ $0.proxies.values }) { await proxy.shutdown() }
        try? await pool.shutdownGracefully()
        try? await loops.shutdownGracefully()
    }
}
