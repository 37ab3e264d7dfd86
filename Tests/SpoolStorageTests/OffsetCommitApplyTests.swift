import Foundation
import Raft
import SpoolCore
import Testing

@testable import SpoolStorage

/// An offset-commit entry with one commit per `(group, next)` pair.
func commitEntry(_ index: UInt64, term: UInt64, _ commits: [(String, Int64)]) -> Entry {
    let payload = OffsetCommit.encodePayload(
        commits.map { OffsetCommit(group: $0.0, nextOffset: Offset($0.1), generation: 1, member: "m-1", committedMs: 7) })
    return Entry(index: LogIndex(index), term: Term(term), kind: .offsetCommit, payload: payload)
}

/// Every group's position in the partition file at `path`, as a consumer's broker reads it.
func positions(_ path: String) throws -> [String: Int64] {
    let reader = try PartitionReader(path: path)
    return Dictionary(uniqueKeysWithValues: try reader.committedOffsets().map { ($0.group, $0.nextOffset.rawValue) })
}

/// Offset commits reach `consumer_offsets` when their entry is committed (`applyOffsetCommits`),
/// never when it is persisted: a persisted entry may still be truncated (docs/replication.md §4).
@Suite("Offset commits applied at the commit (real files)", .timeLimit(.minutes(1)))
struct OffsetCommitApplyTests {
    @Test func aPersistedOffsetCommitShowsOnlyOnceAppliedAndApplyingAgainChangesNothing() throws {
        let fixture = try RaftLogFixture()
        let entries = [
            batchEntry(1, term: 1, first: 0, count: 3),
            commitEntry(2, term: 1, [("billing", 3)]),
            commitEntry(3, term: 1, [("billing", 5), ("audit", 1)]),
        ]
        try fixture.store.persist(snapshot: nil, entries: entries, hardState: HardState(term: 1, vote: 1, commit: 0))
        #expect(try positions(fixture.path).isEmpty, "persisted, not committed: nothing to see")
        #expect(fixture.store.offsetsAppliedIndex == 0)

        var writes = 0
        fixture.store.beforeCommit = { writes += 1 }
        // A committed list without an offset commit (every produce batch) writes nothing.
        #expect(try !fixture.store.applyOffsetCommits([entries[0]]))
        #expect(try !fixture.store.applyOffsetCommits([]))
        #expect(writes == 0)

        #expect(try fixture.store.applyOffsetCommits(Array(entries[0 ... 1])))
        #expect(writes == 1)
        #expect(try positions(fixture.path) == ["billing": 3])
        #expect(fixture.store.offsetsAppliedIndex == 2)
        #expect(try fixture.connection.scalarInt("SELECT offsets_applied_index FROM raft_state") == 2)

        // The next Ready's committed entries: entry 2 is below the mark and skipped, 3 applied.
        #expect(try fixture.store.applyOffsetCommits(Array(entries[1 ... 2])))
        #expect(try positions(fixture.path) == ["billing": 5, "audit": 1])
        // Applied again (Raft hands entries out again after a restart): no write, and entry 2's
        // older position does not come back.
        #expect(try !fixture.store.applyOffsetCommits([entries[1]]))
        #expect(try !fixture.store.applyOffsetCommits(entries))
        #expect(writes == 2)
        #expect(try positions(fixture.path) == ["billing": 5, "audit": 1])

        fixture.store.beforeCommit = nil
        try fixture.reopen()
        #expect(fixture.store.offsetsAppliedIndex == 3)
        #expect(try positions(fixture.path) == ["billing": 5, "audit": 1])
        #expect(try fixture.connection.integrityCheck() == "ok")
    }

    /// A follower persists an offset commit of term 1 that the leader of term 2 never had: the
    /// new leader's entries replace it (`persist` with overlapping indexes) and its position
    /// never shows, not even after a reopen; the commit that replaced it is applied.
    @Test func anOffsetCommitPersistedThenTruncatedNeverShows() throws {
        let fixture = try RaftLogFixture()
        try fixture.store.persist(
            snapshot: nil,
            entries: [Entry(index: 1, term: 1, kind: .noOp), batchEntry(2, term: 1, first: 0, count: 2), commitEntry(3, term: 1, [("billing", 2)])],
            hardState: HardState(term: 1, vote: 1, commit: 2))
        #expect(try !fixture.store.applyOffsetCommits(try fixture.store.entries(from: 1, upTo: 3, maxBytes: .max)))
        #expect(try positions(fixture.path).isEmpty)

        // Term 2's leader: its no-op at 3, then a batch and another group's commit.
        let replacement = [Entry(index: 3, term: 2, kind: .noOp), batchEntry(4, term: 2, first: 2, count: 1), commitEntry(5, term: 2, [("audit", 3)])]
        try fixture.store.persist(snapshot: nil, entries: replacement, hardState: HardState(term: 2, vote: 2, commit: 5))
        #expect(try fixture.connection.scalarInt("SELECT count(*) FROM raft_log WHERE kind = 1") == 1)
        #expect(try positions(fixture.path).isEmpty)
        #expect(try fixture.store.applyOffsetCommits(try fixture.store.entries(from: 3, upTo: 6, maxBytes: .max)))
        #expect(try positions(fixture.path) == ["audit": 3])

        try fixture.reopen()
        #expect(try positions(fixture.path) == ["audit": 3], "billing's truncated commit never shows")
        #expect(fixture.store.offsetsAppliedIndex == 5)
    }

    /// The apply is not synced: a crash can lose it while the commit index covering its entries
    /// stays in the file. Simulated by moving the commit index without applying; the reopen
    /// applies exactly the offset commits above the mark and at or below the commit index.
    @Test func aReopenAppliesTheCommittedOffsetCommitsAboveTheMark() throws {
        let fixture = try RaftLogFixture()
        let entries = [
            commitEntry(1, term: 1, [("billing", 4)]),
            batchEntry(2, term: 1, first: 0, count: 2),
            commitEntry(3, term: 1, [("audit", 7)]),
            commitEntry(4, term: 1, [("audit", 8), ("billing", 9)]),
            commitEntry(5, term: 1, [("billing", 11)]),
        ]
        try fixture.store.persist(snapshot: nil, entries: entries, hardState: HardState(term: 1, vote: 1, commit: 1))
        #expect(try fixture.store.applyOffsetCommits([entries[0]]))
        // Entries 3 and 4 commit; the apply of them is lost.
        try fixture.store.setHardState(HardState(term: 1, vote: 1, commit: 4))
        #expect(try positions(fixture.path) == ["billing": 4])

        try fixture.reopen()
        #expect(try positions(fixture.path) == ["billing": 9, "audit": 8], "3 and 4 applied in order; 5 is not committed")
        #expect(fixture.store.offsetsAppliedIndex == 4)
        #expect(try fixture.connection.scalarInt("SELECT offsets_applied_index FROM raft_state") == 4)
        // Entry 5 commits later; of a list that repeats the entries below the mark, only 5 is applied.
        #expect(try fixture.store.applyOffsetCommits(entries))
        #expect(try positions(fixture.path) == ["billing": 11, "audit": 8])

        // Nothing above the mark: a reopen writes nothing.
        try fixture.reopen()
        #expect(try fixture.connection.scalarInt("SELECT total_changes()") == 0)
        #expect(try positions(fixture.path) == ["billing": 11, "audit": 8])
    }

    /// The reopen reads the offset-commit entries through their partial index, not by scanning
    /// the log's record batches.
    @Test func theReopenQueryUsesThePartialIndex() throws {
        let fixture = try RaftLogFixture()
        let plan = try fixture.connection.prepare(
            "EXPLAIN QUERY PLAN SELECT raft_index, term, payload FROM raft_log WHERE kind = 1 AND raft_index > ? AND raft_index <= ? ORDER BY raft_index")
        var details: [String] = []
        while try plan.step() { details.append(plan.columnText(3) ?? "") }
        #expect(details.contains { $0.contains("raft_log_offset_commits") }, "plan: \(details)")
    }

    /// After a failed write the kept log bounds the applied mark, and the positions of committed
    /// entries stay.
    @Test func discardingEntriesBoundsTheMarkByTheKeptLog() throws {
        let fixture = try RaftLogFixture()
        let entries = [Entry(index: 1, term: 1, kind: .noOp), commitEntry(2, term: 1, [("billing", 3)]), batchEntry(3, term: 1, first: 0, count: 1)]
        try fixture.store.persist(snapshot: nil, entries: entries, hardState: HardState(term: 1, vote: 1, commit: 2))
        #expect(try fixture.store.applyOffsetCommits(Array(entries[0 ... 1])))
        fixture.closeDatabase()

        let connection = try RaftLogStore.openPartitionConnection(path: fixture.path)
        defer { connection.close() }
        try RaftLogStore.discardEntries(after: 2, on: connection)
        #expect(try connection.scalarInt("SELECT offsets_applied_index FROM raft_state") == 2, "the entries it covers are kept")
        // Below an applied entry (never asked for: committed entries are not removed), the mark
        // follows the log back; the position stays, as it came from a committed entry.
        try RaftLogStore.discardEntries(after: 1, on: connection)
        #expect(try connection.scalarInt("SELECT offsets_applied_index FROM raft_state") == 1)
        #expect(try connection.scalarInt("SELECT commit_index FROM raft_state") == 1)
        #expect(try positions(fixture.path) == ["billing": 3])
    }
}
