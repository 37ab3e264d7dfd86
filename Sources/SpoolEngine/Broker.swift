import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SpoolCore
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

    private init(config: BrokerConfig, pool: NIOThreadPool, metadata: MetadataStore, lock: DataDirectoryLock, logger: Logger) {
        self.config = config
        self.lock = lock
        self.pool = pool
        self.layout = DataLayout(root: config.dataDirectory)
        self.metadata = metadata
        self.logger = logger
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
                let broker = Broker(config: config, pool: pool, metadata: metadata, lock: lock, logger: logger)
                try broker.loadTopics()
                return broker
            }
        } catch {
            try? await pool.shutdownGracefully()
            throw error
        }
    }

    /// Runs on a storage thread at startup.
    private func loadTopics() throws {
        for record in try metadata.topics() {
            guard let name = TopicName(record.name, maxBytes: .max) else {
                logger.error("skipping topic with an illegal name", metadata: ["topic": "\(record.name)"])
                continue
            }
            let topic = try openTopic(name, partitions: record.partitions, createdMs: record.createdMs)
            topics.withLockedValue { $0[name] = topic }
        }
        logger.info("opened data folder", metadata: ["data.dir": "\(config.dataDirectory)", "topics": "\(topics.withLockedValue { $0.count })"])
    }

    /// Opens (creating when missing) every partition database of a topic. Storage thread only.
    func openTopic(_ name: TopicName, partitions: Int, createdMs: Int64) throws -> Topic {
        var logs: [PartitionLog] = []
        for index in 0..<partitions {
            let id = PartitionID(index)
            logs.append(
                try PartitionLog(
                    topic: name, id: id, path: layout.partitionDatabase(name, id), pool: pool,
                    limits: config.limits, logger: logger))
        }
        return Topic(name: name, partitions: logs, createdMs: createdMs)
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
        for topic in all {
            for log in topic.partitions {
                try? await log.close(.shutdown, on: loop).get()
            }
        }
        try? await pool.runIfActive { [metadata, metadataLock] in
            metadataLock.withLock { try? metadata.checkpoint() }
        }
        try? await pool.shutdownGracefully()
        lock.release()
        logger.info("storage closed")
    }
}

/// Storage failures become `ERR STORAGE`; wire errors pass through.
public func wireError(_ error: any Error) -> SpoolError {
    switch error {
    case let error as SpoolError: return error
    case let error as StorageError: return SpoolError(.storage, error.message)
    case is NIOThreadPoolError.ThreadPoolInactive: return SpoolError(.shuttingDown, "the broker is shutting down")
    default: return SpoolError(.storage, "\(error)")
    }
}
