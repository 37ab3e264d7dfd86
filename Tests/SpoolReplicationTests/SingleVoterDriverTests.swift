import NIOCore
import NIOPosix
import Raft
import SpoolCluster
import SpoolCore
import SpoolReplication
import Testing

/// A replica alone in its group (what a broker without cluster options will run): it commits on
/// its own fsync, over a real partition file.
@Suite("Replica driver: a single voter", .timeLimit(.minutes(1)))
struct SingleVoterDriverTests {
    static let group = RaftGroupID(topic: TopicID(7), partition: PartitionID(3))

    /// Opens a single-voter driver on `path`, waits until it leads, runs `body`, and stops it.
    static func withDriver(
        path: String, pool: NIOThreadPool, loops: EventLoopGroup, _ body: (ReplicaDriver) async throws -> Void
    ) async throws {
        try await withTicker(loops) { ticker in
            let driver = try await ReplicaDriver.open(
                path: path, group: group, config: testReplicaConfig(id: 1, voters: [1]), pool: pool, ticker: ticker,
                sender: ReplicaRouter())
            do {
                try await eventually("the single voter leads") { driver.status.role == .leader }
                try await body(driver)
            } catch {
                await driver.stop()
                throw error
            }
            await driver.stop()
        }
    }

    @Test func concurrentBatchesCommitAtGapFreeOffsetsSharingFsyncsAndSurviveARestart() async throws {
        try await TemporaryFolder.with { folder in
            let path = "\(folder)/p.sqlite3"
            try await withRuntime { pool, loops in
                let batches = 50
                let events = ProposalEvents()
                try await Self.withDriver(path: path, pool: pool, loops: loops) { driver in
                    let writesBefore = driver.status.syncedWrites
                    for i in 0 ..< batches { driver.propose(records: produceBatch("b\(i)", count: 10), events.recorder(i)) }
                    try await eventually("every proposal completes") { events.finished(0 ..< batches) }
                    // The status is published at the end of the cycle whose events completed them.
                    try await eventually("the status shows them") { driver.status.highWatermark == Offset(Int64(batches * 10)) }
                    var firstOffsets: [Int64] = []
                    for i in 0 ..< batches {
                        let seen = events.of(i)
                        guard let offset = seen.first?.offset else {
                            Issue.record("proposal \(i): \(seen)")
                            continue
                        }
                        // acks=none, acks=leader (the local fsync) and acks=all (the commit), in order.
                        #expect(seen == [.accepted(offset), .durable(offset), .committed(offset)], "proposal \(i)")
                        firstOffsets.append(offset.rawValue)
                    }
                    #expect(firstOffsets.sorted() == Array(stride(from: 0, to: Int64(batches * 10), by: 10)), "gap-free, one range per batch")
                    // Group commit: proposals that waited for a cycle share its Ready and fsync.
                    let synced = driver.status.syncedWrites - writesBefore
                    #expect(synced < batches, "\(synced) synced writes for \(batches) concurrent batches")

                    // The file holds exactly those records, each batch at the offsets its proposal got.
                    let stored = try storedRecords(path)
                    #expect(stored.count == batches * 10)
                    #expect(stored.map(\.offset) == Array(0 ..< Int64(batches * 10)))
                    for i in 0 ..< batches {
                        let first = Int(events.of(i).first!.offset!.rawValue)
                        #expect(stored[first ..< first + 10].map(\.value) == (0 ..< 10).map { "b\(i)-\($0)" })
                    }
                    #expect(zip(stored, stored.dropFirst()).allSatisfy { $0.timestamp <= $1.timestamp }, "append times never go back")
                }

                // Reopened: the records and the high watermark are there before any election, and
                // offsets continue after them.
                try await Self.withDriver(path: path, pool: pool, loops: loops) { driver in
                    #expect(driver.status.highWatermark == Offset(Int64(batches * 10)))
                    let durable = try await driver.propose(records: produceBatch("after", count: 5), acks: .leader)
                    #expect(durable == Offset(Int64(batches * 10)))
                    let next = try await driver.propose(records: produceBatch("after2", count: 5))
                    #expect(next == Offset(Int64(batches * 10 + 5)))
                    try await eventually("both committed") { driver.status.highWatermark == Offset(Int64(batches * 10 + 10)) }
                    let stored = try storedRecords(path)
                    #expect(stored.count == batches * 10 + 10)
                    #expect(stored.suffix(10).map(\.value) == (0 ..< 5).map { "after-\($0)" } + (0 ..< 5).map { "after2-\($0)" })
                    #expect(stored.prefix(batches * 10).map(\.offset) == Array(0 ..< Int64(batches * 10)))
                }
            }
        }
    }

    /// A group of one campaigns as it opens: with a tick of 10 s no election timeout could make it
    /// lead during this test, and it takes a write at once.
    @Test func aSingleVoterLeadsAsSoonAsItOpens() async throws {
        try await TemporaryFolder.with { folder in
            try await withRuntime { pool, loops in
                try await withTicker(loops, tickIntervalMs: 10_000) { ticker in
                    let driver = try await ReplicaDriver.open(
                        path: "\(folder)/p.sqlite3", group: Self.group, config: testReplicaConfig(id: 1, voters: [1]), pool: pool, ticker: ticker,
                        sender: ReplicaRouter())
                    let first: Result<Offset, ReplicaError>
                    do throws(ReplicaError) {
                        first = .success(try await driver.propose(records: produceBatch("now", count: 2)))
                    } catch {
                        first = .failure(error)
                    }
                    await driver.stop()
                    #expect(first == .success(.zero))
                }
            }
        }
    }

    @Test func aStoppedDriverFailsProposalsWithStopped() async throws {
        try await TemporaryFolder.with { folder in
            try await withRuntime { pool, loops in
                var stopped: ReplicaDriver?
                try await Self.withDriver(path: "\(folder)/p.sqlite3", pool: pool, loops: loops) { driver in
                    let first = try await driver.propose(records: produceBatch("x", count: 1))
                    #expect(first == .zero)
                    stopped = driver
                }
                let driver = try #require(stopped)
                #expect(driver.status.stopped)
                await #expect(throws: ReplicaError.stopped) { try await driver.propose(records: produceBatch("y", count: 1)) }
            }
        }
    }
}
