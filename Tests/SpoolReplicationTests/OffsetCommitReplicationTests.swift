import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Raft
import SpoolCore
import Testing

@testable import SpoolReplication
@testable import SpoolStorage

/// Offset commits are applied into `consumer_offsets` as their entry commits, on every replica,
/// before the proposer hears `.committed` (docs/replication.md §4).
@Suite("Replica driver: offset commits applied at the commit", .timeLimit(.minutes(2)))
struct OffsetCommitReplicationTests {
    static func commits(_ pairs: [(String, Int64)]) -> [UInt8] {
        OffsetCommit.encodePayload(pairs.map { OffsetCommit(group: $0.0, nextOffset: Offset($0.1), generation: 2, member: "m-2", committedMs: 9) })
    }

    /// Every group's position in the partition file at `path` (a reader beside the running writer).
    static func positions(_ path: String) -> [String: Int64] {
        guard let all = try? PartitionReader(path: path).committedOffsets() else { return [:] }
        return Dictionary(uniqueKeysWithValues: all.map { ($0.group, $0.nextOffset.rawValue) })
    }

    /// Proposes an offset-commit entry on the current leader (again only when it certainly did not
    /// commit) and returns that leader with the positions its file showed when `.committed` came.
    static func commitOnLeader(_ payload: [UInt8], cluster: ReplicaTestCluster) async throws -> (leader: NodeID, seen: [String: Int64]) {
        for _ in 0 ..< 100 {
            guard let leader = cluster.currentLeader() else {
                try await Task.sleep(for: .milliseconds(20))
                continue
            }
            let path = cluster.path(leader)
            let outcome = NIOLockedValueBox<Result<[String: Int64], ReplicaError>?>(nil)
            cluster.driver(leader).propose(entry: .offsetCommit, payload: payload) { event in
                switch event {
                case .committed: outcome.withLockedValue { $0 = .success(positions(path)) }
                case .failed(let error): outcome.withLockedValue { $0 = .failure(error) }
                case .accepted, .durable: break
                }
            }
            try await eventually("the offset commit on \(leader) ends") { outcome.withLockedValue { $0 } != nil }
            switch outcome.withLockedValue({ $0 })! {
            case .success(let seen): return (leader, seen)
            case .failure(.notLeader), .failure(.superseded): try await Task.sleep(for: .milliseconds(20))
            case .failure(let error):
                Issue.record("offset commit on \(leader) failed: \(error)")
                throw error
            }
        }
        Issue.record("no leader took the offset commit: \(cluster.describe())")
        throw CancellationError()
    }

    @Test func aCommittedOffsetCommitIsInConsumerOffsetsOnEveryReplica() async throws {
        try await ReplicaTestCluster.with(nodes: 3) { cluster in
            _ = try await cluster.waitForLeader()
            _ = try await proposeOnLeader(produceBatch("r", count: 20), cluster: cluster)
            let first = try await Self.commitOnLeader(Self.commits([("billing", 10)]), cluster: cluster)
            #expect(first.seen == ["billing": 10], "readable on the leader when its commit is reported")
            let second = try await Self.commitOnLeader(Self.commits([("billing", 20), ("audit", 5)]), cluster: cluster)
            #expect(second.seen == ["billing": 20, "audit": 5])
            // Followers apply as they learn the commit index (the leader's next append or heartbeat).
            for id in cluster.ids {
                try await eventually("replica \(id) applied both commits") { Self.positions(cluster.path(id)) == ["billing": 20, "audit": 5] }
            }
            try await cluster.waitForHighWatermark(Offset(20))
        }
    }

    /// A failed apply write is a failed write: the replica stops, the commit's proposer hears
    /// `.storageFailed`, nothing is told committed; the entry stays in the log, and the reopened
    /// replica applies it when it commits it again.
    @Test func aFailedApplyStopsTheReplicaAndTheReopenedOneAppliesTheEntry() async throws {
        try await TemporaryFolder.with { folder in
            let path = "\(folder)/p.sqlite3"
            try await withRuntime { pool, loops in
                try await withTicker(loops) { ticker in
                    let failing = NIOLockedValueBox(false)
                    let appliedSeen = NIOLockedValueBox<[[String: Int64]]>([])
                    let config = testReplicaConfig(id: 1, voters: [1])
                    let driver = try await ReplicaDriver.open(
                        path: path, group: SingleVoterDriverTests.group, config: config, pool: pool, ticker: ticker, sender: ReplicaRouter(),
                        onApply: { committed, _ in
                            if committed.contains(where: { $0.kind == .offsetCommit }) { appliedSeen.withLockedValue { $0.append(Self.positions(path)) } }
                        }
                    ) { store in
                        let connection = store.connection
                        // Fails the transaction that writes the second position: its apply, not its persist.
                        store.beforeCommit = { () throws(StorageError) in
                            if failing.withLockedValue({ $0 }),
                                try connection.scalarInt("SELECT count(*) FROM consumer_offsets WHERE next_offset = 7") == 1
                            {
                                throw StorageError(code: StorageFailureTests.ioerrFsync, message: "injected fsync failure")
                            }
                        }
                    }
                    do {
                        try await eventually("the single voter leads") { driver.status.role == .leader }
                        let events = ProposalEvents()
                        driver.propose(entry: .offsetCommit, payload: Self.commits([("billing", 3)]), events.recorder(0))
                        try await eventually("the first commit ends") { events.finished(0 ..< 1) }
                        #expect(events.of(0).last == .committed(.zero))
                        #expect(appliedSeen.withLockedValue { $0 } == [["billing": 3]], "applied before onApply hears of it")

                        failing.withLockedValue { $0 = true }
                        driver.propose(entry: .offsetCommit, payload: Self.commits([("billing", 7)]), events.recorder(1))
                        try await eventually("the second commit ends") { events.finished(1 ..< 2) }
                        guard case .failed(.storageFailed(let description)) = events.of(1).last else {
                            Issue.record("the commit whose apply failed ended \(events.of(1))")
                            throw CancellationError()
                        }
                        #expect(description.contains("injected fsync failure"))
                        #expect(events.of(1).contains(.durable(.zero)), "its entry was persisted")
                        try await eventually("the status says so") { driver.status.storageFailure != nil }
                        #expect(appliedSeen.withLockedValue { $0.count } == 1, "nobody heard of the second commit")
                        #expect(Self.positions(path) == ["billing": 3])
                        try await eventually("the failed replica closes") { driver.closeAfterFailure() != nil }
                    } catch {
                        await driver.stop()
                        throw error
                    }
                    await driver.stop()
                }
            }
            // The entry is in the log: the reopened replica commits it again and applies it.
            try await withRuntime { pool, loops in
                try await SingleVoterDriverTests.withDriver(path: path, pool: pool, loops: loops) { driver in
                    try await eventually("the position of the entry whose apply failed") { Self.positions(path) == ["billing": 7] }
                }
            }
        }
    }
}
