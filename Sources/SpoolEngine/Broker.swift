import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Raft
import SpoolCluster
import SpoolCore
import SpoolReplication
import SpoolStorage

/// The single-node engine: topics, their partitions and every record operation.
///
/// Callers (the server's connection handlers) run on NIO event loops; everything that touches
/// SQLite or the disk runs on `pool`, the storage threads, and comes back as an
/// `EventLoopFuture` on the caller's loop.
public final class Broker: Sendable {
    public let config: BrokerConfig
    public let stats = BrokerStats()
    let pool: NIOThreadPool
    let layout: DataLayout
    let logger: Logger
    let topics = NIOLockedValueBox<[TopicName: Topic]>([:])
    /// Serializes topic creation and removal (metadata database and folders). Held only on
    /// storage threads.
    let metadataLock = NIOLock()
    let metadata: MetadataStore
    private let lock: DataDirectoryLock
    /// Topics whose files are still being removed; a CREATE of the name waits for them.
    let dropping = NIOLockedValueBox<Set<TopicName>>([])
    private let shuttingDown = NIOLockedValueBox(false)
    /// File descriptors: every connection and every open partition must fit (read at open).
    let fileHandles: FileHandleBudget
    /// The clock of every partition's Raft group, and where their messages go.
    let ticker: ReplicaTicker
    public let router = ReplicaRouter()
    let replication: PartitionReplication
    /// This broker's replica of the metadata group (cluster mode: `openMetadataGroup`).
    let metadataGroup = NIOLockedValueBox<MetadataReplica?>(nil)

    /// Client connections the server may admit: `SpoolLimits.connections`, or fewer when that many
    /// would not fit the file descriptor limit beside the partitions (lowered at start with a
    /// warning, as Redis lowers maxclients to fit ulimit -n).
    public var connectionLimit: Int { fileHandles.connections }

    private init(
        config: BrokerConfig, pool: NIOThreadPool, metadata: MetadataStore, lock: DataDirectoryLock, fileHandles: FileHandleBudget,
        logger: Logger
    ) {
        self.config = config
        self.lock = lock
        self.pool = pool
        self.layout = DataLayout(root: config.dataDirectory)
        self.metadata = metadata
        self.logger = logger
        self.fileHandles = fileHandles
        ticker = ReplicaTicker(eventLoop: MultiThreadedEventLoopGroup.singleton.any())
        ticker.watchPeers { [router] in router.peerLiveness() }
        replication = PartitionReplication(node: config.nodeID, ticker: ticker, router: router, limits: config.limits)
    }

    /// Opens the data folder (creating it if needed) and every topic in it.
    public static func open(config: BrokerConfig, logger: Logger = Logger(label: "spool.engine")) async throws -> Broker {
        let pool = NIOThreadPool(numberOfThreads: max(1, config.storageThreads))
        pool.start()
        do {
            return try await pool.runIfActive {
                let layout = DataLayout(root: config.dataDirectory)
                try FileSystem.makeDirectories(layout.topicsDirectory)
                let lock = try DataDirectoryLock(directory: config.dataDirectory)
                let metadata = try MetadataStore(path: layout.brokerDatabase)
                let fileHandles = try budget(config: config, partitions: try metadata.topics().reduce(0) { $0 + $1.partitions }, logger: logger)
                let broker = Broker(config: config, pool: pool, metadata: metadata, lock: lock, fileHandles: fileHandles, logger: logger)
                do {
                    try broker.loadTopics()
                } catch {
                    broker.ticker.stop()
                    throw error
                }
                return broker
            }
        } catch {
            try? await pool.shutdownGracefully()
            throw error
        }
    }

    /// The file descriptor budget for `partitions` open partitions. When the configured
    /// connections do not fit beside them, the connection limit is lowered to what fits (logged);
    /// when not even `FileHandleBudget.minimumConnections` fit, the broker refuses to start and
    /// says what to change.
    private static func budget(config: BrokerConfig, partitions: Int, logger: Logger) throws -> FileHandleBudget {
        var budget = FileHandleBudget(
            limit: FileHandleBudget.processLimits().soft, connections: config.limits.connections,
            storageThreads: max(1, config.storageThreads))
        guard !budget.fits(partitions: partitions) else { return budget }
        let fit = budget.connectionsThatFit(partitions: partitions)
        guard fit >= FileHandleBudget.minimumConnections else {
            throw StartupFailure(description: "the data folder \(config.dataDirectory) holds \(budget.shortage(partitions: partitions))")
        }
        logger.warning(
            "the connection limit is lowered to fit the file descriptor limit; raise ulimit -n (or LimitNOFILE=) to admit more",
            metadata: [
                "connections.configured": "\(config.limits.connections)", "connections.limit": "\(fit)",
                "fd.limit": "\(budget.limit)", "partitions": "\(partitions)",
            ])
        budget.connections = fit
        return budget
    }

    /// Runs on a storage thread at startup. broker.sqlite3 says which partitions must exist;
    /// their files are opened, never created (only CREATE creates partition files).
    private func loadTopics() throws {
        // What an interrupted CREATE or DROP left behind (see DataLayout) is not a topic.
        try FileSystem.removeTree(layout.stagingDirectory)
        try FileSystem.removeTree(layout.trashDirectory)
        let records = try metadata.topics()
        let partitions = records.reduce(0) { $0 + $1.partitions }
        var known = Set<String>()
        for record in records {
            known.insert(record.name)
            guard let name = TopicName(record.name, maxBytes: .max) else {
                logger.error("skipping topic with an illegal name", metadata: ["topic": "\(record.name)"])
                continue
            }
            let topic = try openTopic(name, partitions: record.partitions, createdMs: record.createdMs)
            topics.withLockedValue { $0[name] = topic }
        }
        // A folder with a topic id is a cluster's replicas: the metadata group says what it is.
        for folder in FileSystem.listDirectory(layout.topicsDirectory)
        where !known.contains(folder) && !FileSystem.exists(layout.topicsDirectory + "/\(folder)/topic.id") {
            logger.warning(
                "a folder in topics/ is not a topic in broker.sqlite3; it is left as it is (CREATE of the name replaces it)",
                metadata: ["folder": "\(layout.topicsDirectory)/\(folder)"])
        }
        let offline = topics.withLockedValue { $0.values.reduce(0) { $0 + $1.offlineCount } }
        logger.info(
            "opened data folder",
            metadata: [
                "data.dir": "\(config.dataDirectory)", "topics": "\(topics.withLockedValue { $0.count })",
                "partitions": "\(partitions)", "partitions.offline": "\(offline)", "fd.limit": "\(fileHandles.limit)",
            ])
    }

    /// Opens every partition database of a topic from its existing files.
    func openTopic(_ name: TopicName, partitions: Int, createdMs: Int64) throws -> Topic {
        let logs = try openPartitions(name, (0..<partitions).map { PartitionID($0) }) { _ in nil }
        return Topic(name: name, partitions: logs, createdMs: createdMs)
    }

    /// Opens the partition databases `ids` of a topic from their existing files, each with its
    /// Raft group and voters from `placement` (nil: a single broker's partition). A partition
    /// whose file is missing or empty is *lost* and one that is not a sound database is
    /// *damaged*: either is offline (logged with its file), never recreated, and the other
    /// partitions serve. Storage thread only.
    func openPartitions(
        _ name: TopicName, _ ids: [PartitionID], placement: (PartitionID) -> (group: RaftGroupID, voters: [NodeID])?
    ) throws -> [PartitionLog] {
        var logs: [PartitionLog] = []
        for id in ids {
            let path = layout.partitionDatabase(name, id)
            let place = placement(id)
            // An empty database file with a WAL beside it is a database whose pages are all
            // still in the WAL (a crash before the first checkpoint): SQLite recovers it.
            guard FileSystem.fileSize(path) > 0 || FileSystem.fileSize(path + "-wal") > 0 else {
                logger.error(
                    "partition file is missing or empty; the partition is offline (restore the file and restart, or DROP the topic)",
                    metadata: ["topic": "\(name)", "partition.id": "\(id)", "file": "\(path)"])
                logs.append(
                    PartitionLog(
                        offline: .lost, topic: name, id: id, path: path, pool: pool, limits: config.limits, logger: logger,
                        replication: replication, placement: place))
                continue
            }
            do {
                logs.append(
                    try PartitionLog(
                        topic: name, id: id, path: path, pool: pool, limits: config.limits, logger: logger, replication: replication,
                        placement: place))
            } catch let error as StorageError where error.isDamaged {
                logger.error(
                    "partition file is damaged; the partition is offline (restore the file and restart, or DROP the topic)",
                    metadata: ["topic": "\(name)", "partition.id": "\(id)", "file": "\(path)", "error": "\(error)"])
                logs.append(
                    PartitionLog(
                        offline: .damaged, topic: name, id: id, path: path, pool: pool, limits: config.limits, logger: logger,
                        replication: replication, placement: place))
            } catch let error as StorageError {
                for log in logs { log.closeNow() }
                throw StorageError(code: error.code, message: error.message.contains(path) ? error.message : "\(path): \(error.message)")
            }
        }
        return logs
    }

    func topic(_ name: TopicName) throws(SpoolError) -> Topic {
        guard let topic = topics.withLockedValue({ $0[name] }) else {
            throw SpoolError(.unknownTopic, "no topic named \(name)")
        }
        return topic
    }

    func checkRunning() throws(SpoolError) {
        if shuttingDown.withLockedValue({ $0 }) {
            throw SpoolError(.shuttingDown, "the broker is shutting down")
        }
    }

    /// Lets every queued write commit, closes every database (checkpointing its WAL) and stops
    /// the storage threads. New work is refused from the moment this is called. `loop` carries
    /// the close futures; pass one that exists (the server's): making the shared group here
    /// needs new file handles, and at the handle limit that failed on a SwiftNIO assertion.
    public func shutdown(on loop: EventLoop? = nil) async {
        shuttingDown.withLockedValue { $0 = true }
        let all = topics.withLockedValue { Array($0.values) }
        let loop = loop ?? MultiThreadedEventLoopGroup.singleton.any()
        // All at once: each close is its replica's last cycle (a checkpoint) on the storage
        // threads, so the pool's threads share them instead of one partition after another.
        let closes = all.flatMap { $0.partitions.map { $0.close(.shutdown, on: loop) } }
        try? await EventLoopFuture.andAllComplete(closes, on: loop).get()
        if let replica = metadataGroup.withLockedValue({ $0.take() }) {
            router.unregister(replica.driver.group)
            await replica.driver.stop()
        }
        ticker.stop()
        try? await pool.runIfActive { [metadata, metadataLock] in
            metadataLock.withLock { try? metadata.checkpoint() }
        }
        try? await pool.shutdownGracefully()
        lock.release()
        logger.info("storage closed")
    }
}

/// A data folder the broker cannot serve; the message says what to do.
struct StartupFailure: Error, CustomStringConvertible {
    var description: String
}

/// Storage failures become `ERR STORAGE` (without file paths: clients see SQLite's summary, the
/// engine logs the path where it knows it); wire errors pass through.
public func wireError(_ error: any Error) -> SpoolError {
    switch error {
    case let error as SpoolError: return error
    case let error as StorageError: return SpoolError(.storage, error.summary)
    case is NIOThreadPoolError.ThreadPoolInactive: return SpoolError(.shuttingDown, "the broker is shutting down")
    default: return SpoolError(.storage, "\(error)")
    }
}
