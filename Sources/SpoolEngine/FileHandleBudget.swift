import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many file descriptors the broker needs, and whether they fit the process's limit
/// (`ulimit -n`, RLIMIT_NOFILE).
///
/// Running out is not an error a client can act on: SQLite answers "unable to open database
/// file" for whatever partition opens a file next, and accept() fails for new clients. So the
/// broker plans for the worst case instead: every connection the limits allow, and every open
/// partition at its most, must fit, and a CREATE that would not fit is refused.
public struct FileHandleBudget: Sendable, Equatable {
    /// Descriptors of one open partition at most: the writer's database, WAL and shared-memory
    /// files (3), and each idle reader's database and WAL (2 each; SQLite shares one
    /// shared-memory descriptor per file within a process). Measured by
    /// FileHandleTests.aPartitionCostsAtMostItsBudget on a running spoold.
    public static let perPartition = 3 + 2 * ReaderPool.idleReaders
    /// A reader in use beyond a partition's idle ones: at most one per storage thread.
    public static let perStorageThread = 2
    /// The broker's own descriptors: stdio, the data folder lock, broker.sqlite3 (with WAL and
    /// shared memory), the listening socket, each event loop's epoll, eventfd and timerfd, and
    /// some slack for the runtime.
    public static let reserved = 64

    /// The soft limit on open descriptors.
    public var limit: Int
    /// Client connections the broker admits (`SpoolLimits.connections`): one descriptor each.
    public var connections: Int
    public var storageThreads: Int

    public init(limit: Int, connections: Int, storageThreads: Int) {
        self.limit = limit
        self.connections = connections
        self.storageThreads = storageThreads
    }

    /// Descriptors needed with `partitions` open partitions and every connection in use.
    public func needed(partitions: Int) -> Int {
        Self.reserved + connections + storageThreads * Self.perStorageThread + partitions * Self.perPartition
    }

    /// True when `partitions` open partitions fit beside every connection.
    public func fits(partitions: Int) -> Bool { needed(partitions: partitions) <= limit }

    /// The most connections that fit beside `partitions` open partitions.
    public func connectionsThatFit(partitions: Int) -> Int {
        limit - (Self.reserved + storageThreads * Self.perStorageThread + partitions * Self.perPartition)
    }

    /// Fewer connections than this and the broker refuses to start rather than lower its
    /// connection limit further (an operator must raise ulimit -n).
    public static let minimumConnections = 16

    /// The most partitions that fit.
    public var partitionCapacity: Int { max(0, (limit - needed(partitions: 0)) / Self.perPartition) }

    /// What to tell an operator when `partitions` do not fit.
    public func shortage(partitions: Int) -> String {
        "\(partitions) partitions and \(connections) connections need \(needed(partitions: partitions)) file descriptors "
            + "(\(Self.perPartition) per partition, 1 per connection, \(Self.reserved + storageThreads * Self.perStorageThread) for the broker), "
            + "but this process may open \(limit) (ulimit -n); raise the limit (ulimit -n, or LimitNOFILE= in a systemd unit) "
            + "or lower --max-connections"
    }

    /// The process's soft and hard limits on open descriptors.
    public static func processLimits() -> (soft: Int, hard: Int) {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else { return (1024, 1024) }
        return (clamp(limits.rlim_cur), clamp(limits.rlim_max))
    }

    /// Raises the soft limit to the hard limit (as nginx's worker_rlimit_nofile and Kafka's
    /// start scripts expect an operator to), and logs what it is. Call once at start.
    @discardableResult
    public static func raiseSoftLimit(logger: Logger) -> Int {
        var limits = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else {
            logger.warning("cannot read the file descriptor limit", metadata: ["errno": "\(errno)"])
            return 1024
        }
        let before = clamp(limits.rlim_cur)
        let target = min(clamp(limits.rlim_max), ceiling)
        guard target > before else {
            logger.info("file descriptor limit", metadata: ["fd.limit": "\(before)", "fd.hard_limit": "\(clamp(limits.rlim_max))"])
            return before
        }
        limits.rlim_cur = rlim_t(target)
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0 else {
            logger.warning(
                "cannot raise the file descriptor limit", metadata: ["fd.limit": "\(before)", "fd.wanted": "\(target)", "errno": "\(errno)"])
            return before
        }
        logger.info("raised the file descriptor limit", metadata: ["fd.limit.before": "\(before)", "fd.limit": "\(target)"])
        return target
    }

    /// RLIM_INFINITY and huge hard limits: no kernel lets a process open more than this many
    /// (Linux's default nr_open is 2^20).
    private static let ceiling = 1 << 20

    private static func clamp(_ value: rlim_t) -> Int {
        value >= rlim_t(ceiling) ? ceiling : Int(value)
    }
}
