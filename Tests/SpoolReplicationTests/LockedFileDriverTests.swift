import NIOCore
import NIOPosix
import Raft
import SpoolCluster
import SpoolCore
import SpoolReplication
import SpoolStorage
import Testing

/// A partition file locked by another connection (an operator's sqlite3 without -readonly), as a
/// broker's replica meets it: its write is retried from a timer and no thread sleeps; a lock
/// held past `lockWaitMs` stops the replica as a failed write does.
@Suite("Replica driver: a file locked by another connection", .timeLimit(.minutes(1)))
struct LockedFileDriverTests {
    static let group = RaftGroupID(topic: TopicID(9), partition: PartitionID(0))

    static func withBrokerDriver(
        path: String, lockWaitMs: Int64, pool: NIOThreadPool, loops: EventLoopGroup, _ body: (ReplicaDriver) async throws -> Void
    ) async throws {
        try await withTicker(loops) { ticker in
            var config = testReplicaConfig(id: 1, voters: [1])
            config.storeBusyWaitMs = 0
            config.lockWaitMs = lockWaitMs
            let driver = try await ReplicaDriver.open(path: path, group: group, config: config, pool: pool, ticker: ticker, sender: ReplicaRouter())
            do {
                try await eventually("the single voter leads and wrote its no-op") { driver.status.role == .leader && driver.status.durableIndex >= 1 }
                try await body(driver)
            } catch {
                await driver.stop()
                throw error
            }
            await driver.stop()
        }
    }

    /// Takes the file's write lock as `sqlite3` would.
    static func lock(_ path: String) throws -> SQLiteConnection {
        let connection = try SQLiteConnection(path: path, mode: .readWrite)
        try connection.setPragma("busy_timeout", "5000")
        try connection.execute("BEGIN IMMEDIATE")
        return connection
    }

    @Test func aLockedWriteWaitsWithoutAThreadAndGoesThroughOnceReleased() async throws {
        try await TemporaryFolder.with { folder in
            let path = "\(folder)/p.sqlite3"
            try await withRuntime { pool, loops in
                try await Self.withBrokerDriver(path: path, lockWaitMs: 30_000, pool: pool, loops: loops) { driver in
                    let holder = try Self.lock(path)
                    let events = ProposalEvents()
                    driver.propose(records: produceBatch("a", count: 3), events.recorder(0))
                    try await eventually("the write waits for the lock") { driver.status.blocked }
                    // The pool is not held: another replica on it goes on (its cycles run).
                    try await SingleVoterDriverTests.withDriver(path: "\(folder)/other.sqlite3", pool: pool, loops: loops) { other in
                        let offset = try await other.propose(records: produceBatch("free", count: 1))
                        #expect(offset == .zero)
                    }
                    #expect(!events.finished(0 ..< 1), "nothing is durable while the file is locked")
                    try holder.execute("ROLLBACK")
                    holder.close()
                    try await eventually("the proposal commits once the lock is gone") { events.finished(0 ..< 1) }
                    let offset = try #require(events.of(0).first?.offset)
                    #expect(events.of(0) == [.accepted(offset), .durable(offset), .committed(offset)])
                    #expect(!driver.status.blocked && driver.status.storageFailure == nil)
                    #expect(try storedRecords(path).map(\.value) == ["a-0", "a-1", "a-2"])
                }
            }
        }
    }

    @Test func aLockHeldPastTheBoundStopsTheReplicaAsAFailedWrite() async throws {
        try await TemporaryFolder.with { folder in
            let path = "\(folder)/p.sqlite3"
            try await withRuntime { pool, loops in
                try await Self.withBrokerDriver(path: path, lockWaitMs: 200, pool: pool, loops: loops) { driver in
                    let durableBefore = driver.status.durableIndex
                    let holder = try Self.lock(path)
                    let events = ProposalEvents()
                    let start = ContinuousClock.now
                    driver.propose(records: produceBatch("a", count: 3), events.recorder(0))
                    try await eventually("the replica gives up") { events.finished(0 ..< 1) }
                    #expect(ContinuousClock.now - start >= .milliseconds(200))
                    guard case .failed(.locked(let waitedMs))? = events.of(0).last else {
                        Issue.record("events: \(events.of(0))")
                        return
                    }
                    #expect(waitedMs >= 200)
                    try await eventually("the status says why") { driver.status.storageFailure != nil }
                    // Later proposals fail at once with the same error.
                    await #expect(throws: ReplicaError.self) { _ = try await driver.propose(records: produceBatch("b", count: 1)) }
                    #expect(driver.closeAfterFailure() == durableBefore, "nothing past the last successful write")
                    try holder.execute("ROLLBACK")
                    holder.close()
                    #expect(try storedRecords(path).isEmpty)
                }
            }
        }
    }
}
