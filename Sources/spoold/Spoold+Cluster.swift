import Logging
import NIOPosix
import Raft
import SpoolCluster
import SpoolCore
import SpoolEngine
import SpoolPeer
import SpoolReplication
import SpoolServer
import SpoolStorage

extension PeerTransport: PeerStatusSource {}

/// The peer transport and the event loop it runs on, stopped together.
struct RunningPeers {
    let transport: PeerTransport
    let group: MultiThreadedEventLoopGroup

    /// After the client server: closes the peer listener and every peer connection.
    func shutdown(router: ReplicaRouter) async {
        router.attach(nil)
        await transport.shutdown()
        try? await group.shutdownGracefully()
    }
}

extension Spoold {
    /// Checks the start's cluster options against what the data folder remembers, and records
    /// them in a new folder. On a mismatch the broker is closed and the start refused (exit 1),
    /// saying what the folder has and what was given.
    func checkClusterMemory(_ broker: Broker, _ identity: ClusterIdentity, dataDirectory: String, logger: Logger) async throws {
        let decision: ClusterIdentity.Decision
        do {
            switch try await broker.clusterMemory() {
            case .fresh:
                decision = identity.decide(remembered: nil)
            case .singleBrokerBeforeClusters:
                decision = identity.decide(remembered: nil, singleBrokerData: true)
            case .recorded(let record):
                decision = identity.decide(remembered: Self.identity(of: record))
            }
            if decision == .record {
                try await broker.rememberCluster(
                    ClusterRecord(
                        clusterID: identity.clusterID, nodeID: identity.node.rawValue, peers: identity.peersText, createdMs: WallClock.nowMs()))
                if !identity.isSingleBroker {
                    logger.info(
                        "data folder joined its cluster",
                        metadata: ["cluster.id": "\(identity.clusterID)", "node.id": "\(identity.node.rawValue)", "peers": "\(identity.peersText)"])
                }
            }
        } catch {
            await broker.shutdown()
            throw Failure("spoold: cannot read or record the cluster of the data folder \(dataDirectory): \(error)")
        }
        if case .refuse(let message) = decision {
            await broker.shutdown()
            throw Failure("spoold: \(dataDirectory): \(message)")
        }
    }

    /// The identity a folder's record describes.
    static func identity(of record: ClusterRecord) -> ClusterIdentity {
        var voters: [NodeID: String] = [:]
        for entry in record.peers.split(separator: ",") {
            guard let equals = entry.firstIndex(of: "="), let id = UInt64(entry[..<equals]) else { continue }
            voters[NodeID(id)] = String(entry[entry.index(after: equals)...])
        }
        return ClusterIdentity(clusterID: record.clusterID, node: NodeID(record.nodeID), voters: voters)
    }

    static func clusterView(_ identity: ClusterIdentity) -> ClusterView {
        identity.isSingleBroker ? .singleBroker() : ClusterView(local: identity.node, voters: Array(identity.voters.keys))
    }

    /// Starts the peer transport in a cluster (nil for a single broker): it listens on
    /// `--peer-listen`, dials the higher ids and tells every peer this broker's client address.
    func startPeerTransport(_ membership: ClusterOptions.Resolved, server: SpoolServer, broker: Broker) async throws -> RunningPeers? {
        guard let listen = membership.peerListen else { return nil }
        let identity = membership.identity
        var others = membership.voters
        others[identity.node] = nil
        let limits = membership.transport
        let config = PeerTransportConfig(
            node: identity.node, clusterID: identity.clusterID, clientAddress: server.clientAddress, listen: listen, peers: others,
            queuedBytesPerPeer: limits.queuedBytes, reconnectInitialMs: limits.reconnectInitialMs, reconnectMaxMs: limits.reconnectMaxMs,
            helloTimeoutMs: limits.helloTimeoutMs, keepaliveIntervalMs: limits.keepaliveMs, livenessTimeoutMs: limits.livenessTimeoutMs)
        do {
            // The metadata group's replica exists before any peer message can arrive for it.
            _ = try await broker.openMetadataGroup(voters: identity.voters.keys.sorted())
        } catch {
            await server.stopAccepting()
            await broker.shutdown(on: server.eventLoop)
            await server.shutdown()
            throw Failure("spoold: cannot open the metadata group's log in the data folder: \(error)")
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            // Received Raft messages go to the replica of their group (the broker's router, which
            // exists before the transport starts); a group with no replica here drops them
            // (counted: `ReplicaRouter.counts`). The router sends the replicas' messages back out.
            let router = broker.router
            let transport = try await PeerTransport.start(config: config, group: group, logger: Logger(label: "spool.peer")) { peer, messages in
                router.receive(from: peer, messages)
            }
            // Requests from peers: a metadata proposal for this leader, or a client's command forwarded.
            let commands = server.forwardedCommands
            transport.serveRequests { [broker] _, request, reply in
                switch request.service {
                case .proposeMetadata: broker.serveMetadataProposal(request.payload, reply: reply)
                case .command: commands.serve(request.payload, reply: reply)
                }
            }
            router.attach(transport)
            server.config.cluster.attach(peers: transport)
            return RunningPeers(transport: transport, group: group)
        } catch {
            try? await group.shutdownGracefully()
            await server.stopAccepting()
            await broker.shutdown(on: server.eventLoop)
            await server.shutdown()
            throw Failure(Self.listenFailure(error, address: "\(listen)", option: "--peer-listen"))
        }
    }

    /// What the listening line adds in a cluster: ` node=<id> peer=<host:port> cluster=<id>`.
    static func clusterSuffix(_ membership: ClusterOptions.Resolved) -> String {
        guard let listen = membership.peerListen else { return "" }
        return " node=\(membership.identity.node.rawValue) peer=\(listen) cluster=\(membership.identity.clusterID)"
    }
}
