import NIOPosix
import Raft
import SpoolReplication
import SpoolStorage

/// What a data folder says about the cluster it belongs to, read at start before the broker
/// serves anyone (docs/cluster.md, "What the data folder remembers").
public enum ClusterMemory: Sendable, Equatable {
    /// A new folder: whatever this start is given is recorded.
    case fresh
    /// A folder with a broker database but no cluster row: written by a single broker of a
    /// version before clusters. It holds a single node's topics.
    case singleBrokerBeforeClusters
    /// The cluster the folder recorded at its first start.
    case recorded(ClusterRecord)
}

extension Broker {
    /// The broker.sqlite3 version that added the `cluster` table.
    static let clusterSchemaVersion = 2

    /// What the folder remembers of its cluster. The broker holds the folder's lock, so nothing
    /// changes it between this and `rememberCluster`.
    public func clusterMemory() async throws -> ClusterMemory {
        try await pool.runIfActive { [self] in
            try metadataLock.withLock { () throws -> ClusterMemory in
                if let record = try metadata.cluster() { return .recorded(record) }
                let previous = metadata.schemaVersionAtOpen
                if previous == 0 { return .fresh }
                // A folder already at the cluster schema without a row was interrupted between its
                // first migration and the record (nothing can have been created in it yet); a
                // folder from before is a single broker's, topics or not.
                if previous >= Self.clusterSchemaVersion, try metadata.topics().isEmpty { return .fresh }
                return .singleBrokerBeforeClusters
            }
        }
    }

    /// Records the folder's cluster (first start only; see `clusterMemory`).
    public func rememberCluster(_ record: ClusterRecord) async throws {
        try await pool.runIfActive { [self] in
            try metadataLock.withLock { try metadata.recordCluster(record) }
        }
    }

    /// Opens this broker's replica of the cluster's metadata group (every voter of `--peers`), its
    /// log in broker.sqlite3, and registers it with the router: from then on the brokers elect a
    /// metadata leader over the peer transport. Cluster mode only; stopped by `shutdown`.
    public func openMetadataGroup(voters: [NodeID]) async throws -> MetadataReplica {
        var config = ReplicaConfig(raft: RaftConfig(id: config.nodeID, voters: voters))
        config.lockWaitMs = self.config.limits.partitionLockWaitMs
        config.quiesceWhenIdle = voters.count > 1
        config.onLeadershipChange = { [logger] change in
            logger.info(
                "metadata leadership changed",
                metadata: [
                    "raft.term": "\(change.term.rawValue)", "leader.id": "\(change.leader.rawValue)",
                    "leader.previous": "\(change.previousLeader.rawValue)", "role": "\(change.role)",
                ])
        }
        let replica = try await MetadataReplica.open(
            path: layout.brokerDatabase, config: config, pool: pool, ticker: ticker, sender: router, forwarder: router,
            limits: self.config.limits)
        // Each apply opens or drops this broker's replicas before the proposer hears its outcome.
        replica.onApply { [weak self] _ in self?.reconcileReplicas() }
        router.register(replica.driver)
        metadataGroup.withLockedValue { $0 = replica }
        // What the log had committed at open (applied before the listener was set).
        try await pool.runIfActive { self.reconcileReplicas() }
        return replica
    }
}

extension Broker {
    /// A metadata proposal forwarded by a broker that is not the metadata leader
    /// (`PeerService.proposeMetadata`): `reply` gets an empty answer once it is proposed here, or
    /// why it could not be.
    public func serveMetadataProposal(_ payload: [UInt8], reply: @escaping @Sendable ([UInt8]) -> Void) {
        guard let group = clusterGroup else { return reply(Array("this broker has no metadata group".utf8)) }
        group.proposeForwarded(payload, reply: reply)
    }
}

extension Broker {
    /// The broker's Raft clock: replicas running here and how many are quiesced (STATS).
    public var clockCounts: ReplicaTicker.Counts { ticker.counts }
}
