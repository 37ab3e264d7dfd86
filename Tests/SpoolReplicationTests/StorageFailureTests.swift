import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Raft
import SpoolCluster
import SpoolCore
import Testing

@testable import SpoolReplication
@testable import SpoolStorage

/// A failed write stops that replica, not the process: its proposals fail with `.storageFailed`,
/// nothing after the failure completes as durable or committed, the other drivers keep
/// committing, and the file holds exactly what committed before (docs/replication.md §11).
///
/// The fault is injected at the store's COMMIT (`RaftLogStore.beforeCommit` throwing, which takes
/// the path a failed COMMIT or fsync takes: rolled back, `writeFailed`). The power-loss VFS's
/// injected fsync failures are process-wide switches that its own serialized suite flips, so the
/// real-fsync version of this check is in `PowerLossVFSTests` (on the store alone).
@Suite("Replica driver: a failed write", .timeLimit(.minutes(1)))
struct StorageFailureTests {
    /// SQLITE_IOERR_FSYNC (SQLITE_IOERR | 4 << 8), what a failed fsync reports.
    static let ioerrFsync: Int32 = 10 | 4 << 8

    @Test func aFailedWriteStopsThatReplicaOnlyAndKeepsItsFileIntact() async throws {
        try await TemporaryFolder.with { folder in
            try await withRuntime { pool, loops in
                try await withTicker(loops) { ticker in
                    let failing = NIOLockedValueBox(false)
                    let config = testReplicaConfig(id: 1, voters: [1])
                    let faultyPath = "\(folder)/faulty.sqlite3"
                    let faulty = try await ReplicaDriver.open(
                        path: faultyPath, group: ReplicaTickerTests.group(1), config: config, pool: pool, ticker: ticker,
                        sender: ReplicaRouter(), onApply: { _, _ in }
                    ) { store in
                        store.beforeCommit = { () throws(StorageError) in
                            if failing.withLockedValue({ $0 }) {
                                throw StorageError(code: Self.ioerrFsync, message: "\(faultyPath): injected fsync failure")
                            }
                        }
                    }
                    let healthy = try await ReplicaDriver.open(
                        path: "\(folder)/healthy.sqlite3", group: ReplicaTickerTests.group(2), config: config, pool: pool, ticker: ticker,
                        sender: ReplicaRouter())
                    do {
                        try await eventually("both lead") { faulty.status.role == .leader && healthy.status.role == .leader }
                        for i in 0 ..< 5 {
                            _ = try await faulty.propose(records: produceBatch("ok\(i)", count: 10))
                            _ = try await healthy.propose(records: produceBatch("h\(i)", count: 10))
                        }
                        try await eventually("50 records committed on each") {
                            faulty.status.highWatermark == Offset(50) && healthy.status.highWatermark == Offset(50)
                        }

                        failing.withLockedValue { $0 = true }
                        let events = ProposalEvents()
                        for i in 0 ..< 8 { faulty.propose(records: produceBatch("lost\(i)", count: 10), events.recorder(i)) }
                        try await eventually("every proposal after the fault ended") { events.finished(0 ..< 8) }
                        for i in 0 ..< 8 {
                            let seen = events.of(i)
                            #expect(!seen.contains { if case .durable = $0 { true } else if case .committed = $0 { true } else { false } }, "proposal \(i): \(seen)")
                            guard case .failed(.storageFailed(let description)) = seen.last else {
                                Issue.record("proposal \(i) ended \(seen)")
                                continue
                            }
                            #expect(description.contains("injected fsync failure"))
                        }
                        try await eventually("the status says so") { faulty.status.storageFailure != nil }
                        #expect(faulty.status.highWatermark == Offset(50), "no commit reported past the failed write")
                        // Later proposals fail at once, and the failed replica takes no more ticks.
                        await #expect(throws: ReplicaError.self) { try await faulty.propose(records: produceBatch("late", count: 1)) }
                        #expect(ticker.counts.drivers == 1)
                        let ticks = faulty.receivedTicks
                        // The disk healing changes nothing: the replica never writes through this connection again.
                        failing.withLockedValue { $0 = false }
                        let late = await Self.outcome(faulty, produceBatch("after-heal", count: 1))
                        guard case .failure(.storageFailed) = late else {
                            Issue.record("a proposal after the heal: \(late)")
                            throw CancellationError()
                        }

                        // The rest of the broker keeps going.
                        for i in 5 ..< 10 { _ = try await healthy.propose(records: produceBatch("h\(i)", count: 10)) }
                        try await eventually("the healthy group commits") { healthy.status.highWatermark == Offset(100) }
                        #expect(faulty.receivedTicks == ticks)
                    } catch {
                        await faulty.stop()
                        await healthy.stop()
                        throw error
                    }
                    await faulty.stop()
                    #expect(faulty.status.stopped && faulty.status.storageFailure != nil)
                    await healthy.stop()

                    // The file: sound, and exactly the 50 committed records (the failed write rolled back).
                    let check = try SQLiteConnection(path: faultyPath, mode: .readOnly)
                    #expect(try check.integrityCheck() == "ok")
                    check.close()
                    let stored = try storedRecords(faultyPath)
                    #expect(stored.map(\.offset) == Array(0 ..< 50))
                    #expect(stored.allSatisfy { $0.value.hasPrefix("ok") })

                    // Recovery today is a reopen: the file opens, leads, continues at offset 50.
                    let reopened = try await ReplicaDriver.open(
                        path: faultyPath, group: ReplicaTickerTests.group(1), config: config, pool: pool, ticker: ticker, sender: ReplicaRouter())
                    let next = await Self.outcome(reopened, produceBatch("again", count: 1))
                    await reopened.stop()
                    #expect(next == .success(Offset(50)))
                }
            }
        }
    }

    static func outcome(_ driver: ReplicaDriver, _ batch: ProduceBatch) async -> Result<Offset, ReplicaError> {
        do throws(ReplicaError) {
            return .success(try await driver.propose(records: batch))
        } catch {
            return .failure(error)
        }
    }
}
