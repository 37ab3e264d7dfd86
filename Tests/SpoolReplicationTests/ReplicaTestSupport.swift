import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Raft
import SpoolCore
import SpoolReplication
import SpoolStorage
import Testing
// `eventually` and `TimeoutError` for every file of these tests (test support, shared by the
// test targets).
@_exported import SpoolFaultProxy

/// A folder under the system's temporary directory, removed by `with` on every path.
enum TemporaryFolder {
    static func with<T>(_ body: (String) async throws -> T) async throws -> T {
        let path = NSTemporaryDirectory() + "spool-replica-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await body(path)
    }
}

/// A storage pool and an event loop group for one test, shut down on every path.
func withRuntime(_ body: (NIOThreadPool, EventLoopGroup) async throws -> Void) async throws {
    let pool = NIOThreadPool(numberOfThreads: 2)
    pool.start()
    let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    do {
        try await body(pool, loops)
    } catch {
        try? await pool.shutdownGracefully()
        try? await loops.shutdownGracefully()
        throw error
    }
    try? await pool.shutdownGracefully()
    try? await loops.shutdownGracefully()
}

/// The tick of the tests' tickers: 25 ms (elections after 250–500 ms of silence).
let testTickIntervalMs: Int64 = 25

/// A config for tests (with `testTickIntervalMs` ticks): proposals that give up after
/// `proposalTimeoutTicks` (200: 5 s).
func testReplicaConfig(id: NodeID, voters: [NodeID], proposalTimeoutTicks: Int = 200) -> ReplicaConfig {
    var config = ReplicaConfig(raft: RaftConfig(id: id, voters: voters), randomSeed: 1000 + id.rawValue)
    config.proposalTimeoutTicks = proposalTimeoutTicks
    return config
}

/// A ticker on `loops` for one test, stopped on every path.
func withTicker<T>(
    _ loops: EventLoopGroup, tickIntervalMs: Int64 = testTickIntervalMs, _ body: (ReplicaTicker) async throws -> T
) async throws -> T {
    let ticker = ReplicaTicker(eventLoop: loops.next(), tickIntervalMs: tickIntervalMs)
    defer { ticker.stop() }
    return try await body(ticker)
}

/// A batch of `count` records with values "<name>-<i>" and keys "k<i>".
func produceBatch(_ name: String, count: Int) -> ProduceBatch {
    var batch = ProduceBatch()
    for i in 0 ..< count { batch.append(key: Array("k\(i)".utf8), value: Array("\(name)-\(i)".utf8)) }
    return batch
}

/// One stored record, as a reader of the partition file sees it.
struct StoredRecord: Hashable, CustomStringConvertible {
    var offset: Int64
    var timestamp: Int64
    var key: [UInt8]?
    var value: String

    var description: String { "\(offset)=\(value)" }
}

/// Every record in the partition file at `path` (read through a read-only connection, beside a
/// running writer).
func storedRecords(_ path: String) throws -> [StoredRecord] {
    let reader = try PartitionReader(path: path)
    var records: [StoredRecord] = []
    try reader.read(from: .zero, below: Offset(.max), maxRecords: .max, maxBytes: .max) { view in
        records.append(StoredRecord(
            offset: view.offset.rawValue, timestamp: view.timestamp.rawValue, key: view.key.map { Array($0) },
            value: String(decoding: view.value, as: UTF8.self)))
    }
    return records
}

/// Collects the events of proposals made with the callback API, in order per proposal.
final class ProposalEvents: Sendable {
    private let events = NIOLockedValueBox<[Int: [ProposalEvent]]>([:])

    func recorder(_ id: Int) -> @Sendable (ProposalEvent) -> Void {
        { event in self.events.withLockedValue { $0[id, default: []].append(event) } }
    }

    func of(_ id: Int) -> [ProposalEvent] { events.withLockedValue { $0[id] ?? [] } }

    var all: [Int: [ProposalEvent]] { events.withLockedValue { $0 } }

    func finished(_ ids: some Sequence<Int>) -> Bool { ids.allSatisfy { of($0).last?.isFinal == true } }
}

extension ProposalEvent {
    var offset: Offset? {
        switch self {
        case .accepted(let offset), .durable(let offset), .committed(let offset): offset
        case .failed: nil
        }
    }
}

/// Proposes on `driver`, retrying (on the leader it names) only when the entry is certainly not
/// committed, so each batch is stored exactly once.
func proposeOnLeader(_ batch: ProduceBatch, cluster: ReplicaTestCluster, among: [NodeID]? = nil, attempts: Int = 100) async throws -> Offset {
    var lastError: ReplicaError?
    for _ in 0 ..< attempts {
        guard let leader = cluster.currentLeader(among: among) else {
            try await Task.sleep(for: .milliseconds(20))
            continue
        }
        do {
            return try await cluster.driver(leader).propose(records: batch)
        } catch .notLeader(let hint) {
            lastError = .notLeader(leaderHint: hint)
            try await Task.sleep(for: .milliseconds(20))
        } catch .superseded {
            lastError = .superseded
            try await Task.sleep(for: .milliseconds(20))
        } catch {
            Issue.record("proposal on \(leader) failed: \(error)")
            throw error
        }
    }
    Issue.record("no leader took the proposal after \(attempts) attempts (last: \(String(describing: lastError))): \(cluster.describe())")
    throw CancellationError()
}
