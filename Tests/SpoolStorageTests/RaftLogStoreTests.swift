import Foundation
import Raft
import SpoolCore
import SpoolLegacyFormat
import Testing

@testable import SpoolStorage

/// A partition database in a temporary folder with a writer connection and a `RaftLogStore` over
/// it; `close()` (always called through `withRaftLog`) releases both and removes the folder.
final class RaftLogFixture {
    let folder: String
    let path: String
    private(set) var connection: SQLiteConnection!
    private(set) var store: RaftLogStore!

    init() throws {
        path = temporaryDatabase()
        folder = (path as NSString).deletingLastPathComponent
        try open()
    }

    func open() throws {
        connection = try ConnectionFactory.openWriter(path: path, migrations: .partition)
        store = try RaftLogStore(connection: connection, voters: [1, 2, 3])
    }

    func reopen() throws {
        closeDatabase()
        try open()
    }

    func closeDatabase() {
        store = nil
        connection?.close()
        connection = nil
    }

    deinit {
        closeDatabase()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

/// One record batch entry with values `"<prefix><offset>"` (keys "k<offset>"), timestamps = offset.
func batchEntry(_ index: UInt64, term: UInt64, first: Int64, count: Int, prefix: String = "v") -> Entry {
    var builder = RecordBatch.Builder(firstOffset: Offset(first))
    for offset in first ..< first + Int64(count) {
        builder.append(timestamp: TimestampMs(offset), key: Array("k\(offset)".utf8), value: Array("\(prefix)\(offset)".utf8))
    }
    return Entry(index: LogIndex(index), term: Term(term), kind: .record, payload: builder.finish())
}

func recordValues(_ path: String) throws -> [String] {
    let reader = try PartitionReader(path: path)
    return try readAll(reader).map { "\($0.offset)=" + String(decoding: $0.value, as: UTF8.self) }
}

/// An offset-commit entry's payload: one commit of `group` at `next`.
func commitPayload(_ group: String, _ next: Int64) -> [UInt8] {
    OffsetCommit.encodePayload([OffsetCommit(group: group, nextOffset: Offset(next), generation: 1, member: "m-1", committedMs: 7)])
}

@Suite("Raft log in SQLite (real files)", .timeLimit(.minutes(1)))
struct RaftLogStoreTests {
    @Test func recordBatchesAreStoredOnceAsRecordsAndRebuiltExactly() throws {
        let fixture = try RaftLogFixture()
        let entries = [
            batchEntry(1, term: 1, first: 0, count: 3),
            Entry(index: 2, term: 1, kind: .noOp),
            Entry(index: 3, term: 2, kind: .offsetCommit, payload: commitPayload("billing", 3)),
            batchEntry(4, term: 2, first: 3, count: 2),
        ]
        try fixture.store.append(entries)
        #expect(try fixture.store.entries(from: 1, upTo: 5, maxBytes: .max) == entries)
        #expect(try fixture.connection.scalarInt("SELECT count(*) FROM records") == 5)
        #expect(try fixture.connection.scalarInt("SELECT count(*) FROM raft_log WHERE payload IS NOT NULL") == 2)
        #expect(try fixture.connection.scalarInt("SELECT term FROM records WHERE offset = 4") == 2)
        // An offset commit's entry is stored as it is; its position waits for the commit.
        #expect(try fixture.connection.scalarInt("SELECT next_offset FROM consumer_offsets WHERE group_name = 'billing'") == nil)
        // The byte limit counts the rebuilt payloads, never returning fewer than one entry.
        let first = entries[0].sizeBytes
        #expect(try fixture.store.entries(from: 1, upTo: 5, maxBytes: first).count == 1)
        #expect(try fixture.store.entries(from: 1, upTo: 5, maxBytes: 0).count == 1)
        #expect(try fixture.store.entries(from: 1, upTo: 5, maxBytes: first + entries[1].sizeBytes).count == 2)
        // A reopened store reads the same log.
        try fixture.reopen()
        #expect(fixture.store.lastIndex() == 4)
        #expect(try fixture.store.term(at: 3) == 2)
        #expect(try fixture.store.entries(from: 1, upTo: 5, maxBytes: .max) == entries)
        #expect(fixture.store.nextOffset == Offset(5))
        #expect(try fixture.connection.integrityCheck() == "ok")
    }

    @Test func truncationDeletesExactlyTheDivergentRecords() throws {
        let fixture = try RaftLogFixture()
        try fixture.store.append([
            batchEntry(1, term: 1, first: 0, count: 3),
            Entry(index: 2, term: 1, kind: .noOp),
            batchEntry(3, term: 1, first: 3, count: 2),
            Entry(index: 4, term: 1, kind: .offsetCommit, payload: commitPayload("billing", 5)),
            batchEntry(5, term: 1, first: 5, count: 1),
        ])
        // A new leader's log diverges from index 2 on: its no-op, then one batch.
        #expect(fixture.store.expectedOffset(forEntryAt: 2) == Offset(3))
        let replacement = [Entry(index: 2, term: 2, kind: .noOp), batchEntry(3, term: 2, first: 3, count: 1, prefix: "new")]
        try fixture.store.append(replacement)
        #expect(fixture.store.lastIndex() == 3)
        #expect(try recordValues(fixture.path) == ["0=v0", "1=v1", "2=v2", "3=new3"])
        #expect(try fixture.connection.scalarInt("SELECT max(raft_index) FROM raft_log") == 3)
        #expect(fixture.store.nextOffset == Offset(4))
        // Truncating where no record batch follows deletes no record.
        try fixture.store.append([Entry(index: 4, term: 2, kind: .noOp)])
        try fixture.store.append([Entry(index: 4, term: 3, kind: .noOp)])
        #expect(try recordValues(fixture.path).count == 4)
        #expect(try fixture.store.entries(from: 1, upTo: 5, maxBytes: .max).map(\.term) == [1, 2, 2, 3])
        #expect(try fixture.connection.integrityCheck() == "ok")
    }

    @Test func aPartitionReaderSeesTheRecordsTheLogWrote() throws {
        let fixture = try RaftLogFixture()
        var builder = RecordBatch.Builder(firstOffset: .zero)
        builder.append(timestamp: TimestampMs(10), key: Array("user".utf8), value: Array("text".utf8))
        builder.append(timestamp: TimestampMs(11), key: nil, value: [0, 1, 0xff])
        builder.append(timestamp: TimestampMs(12), key: [], value: [])
        try fixture.store.append([Entry(index: 1, term: 1, kind: .record, payload: builder.finish())])
        let read = try readAll(try PartitionReader(path: fixture.path))
        #expect(read == [
            ReadRecord(offset: 0, timestamp: 10, key: Array("user".utf8), value: Array("text".utf8)),
            ReadRecord(offset: 1, timestamp: 11, key: nil, value: [0, 1, 0xff]),
            ReadRecord(offset: 2, timestamp: 12, key: [], value: []),
        ])
        // Stored as PartitionStore stores them: UTF-8 as TEXT, the rest as BLOB, no key as NULL.
        let types = try fixture.connection.prepare("SELECT typeof(key), typeof(value) FROM records ORDER BY offset")
        var seen: [String] = []
        while try types.step() { seen.append("\(types.columnText(0) ?? "")/\(types.columnText(1) ?? "")") }
        #expect(seen == ["text/text", "null/blob", "text/text"])
    }

    @Test func aCrashBeforeCommitLeavesThePreviousState() throws {
        let fixture = try RaftLogFixture()
        try fixture.store.persist(
            snapshot: nil, entries: [batchEntry(1, term: 1, first: 0, count: 2)], hardState: HardState(term: 1, vote: 1, commit: 1))
        let crash = try RaftLogFixture()
        // What the disk holds just before the COMMIT of the next Ready: the crash image.
        fixture.store.beforeCommit = {
            crash.closeDatabase()
            try? FileManager.default.removeItem(atPath: crash.path + "-shm")
            for suffix in ["", "-wal"] {
                try? FileManager.default.removeItem(atPath: crash.path + suffix)
                try? FileManager.default.copyItem(atPath: fixture.path + suffix, toPath: crash.path + suffix)
            }
        }
        try fixture.store.persist(
            snapshot: nil,
            entries: [Entry(index: 1, term: 2, kind: .noOp), batchEntry(2, term: 2, first: 0, count: 3, prefix: "w")],
            hardState: HardState(term: 2, vote: 2, commit: 2))
        fixture.store.beforeCommit = nil
        #expect(fixture.store.hardState() == HardState(term: 2, vote: 2, commit: 2))
        #expect(try recordValues(fixture.path) == ["0=w0", "1=w1", "2=w2"])

        try crash.open()
        #expect(crash.store.hardState() == HardState(term: 1, vote: 1, commit: 1))
        #expect(crash.store.lastIndex() == 1)
        #expect(try crash.store.entries(from: 1, upTo: 2, maxBytes: .max) == [batchEntry(1, term: 1, first: 0, count: 2)])
        #expect(try recordValues(crash.path) == ["0=v0", "1=v1"])
        #expect(try crash.connection.integrityCheck() == "ok")
        #expect(try fixture.connection.integrityCheck() == "ok")
    }

    @Test func compactionKeepsRecordsAndASnapshotInstallReplacesEverything() throws {
        let fixture = try RaftLogFixture()
        try fixture.store.append([batchEntry(1, term: 1, first: 0, count: 2), batchEntry(2, term: 2, first: 2, count: 2)])
        try fixture.store.compact(through: 1, snapshotData: [9])
        #expect(fixture.store.firstIndex() == 2)
        #expect(try fixture.store.term(at: 1) == 1)
        #expect(try recordValues(fixture.path).count == 4)  // the records are the partition's data
        try fixture.reopen()
        #expect(try fixture.store.snapshot() == Snapshot(index: 1, term: 1, voters: [1, 2, 3], data: [9]))
        #expect(try fixture.store.entries(from: 2, upTo: 3, maxBytes: .max) == [batchEntry(2, term: 2, first: 2, count: 2)])

        try fixture.store.applySnapshot(Snapshot(index: 10, term: 3, voters: [1, 2, 3], data: [1]))
        #expect(try recordValues(fixture.path).isEmpty)
        #expect(fixture.store.nextOffset == nil)
        // The next batch starts where the leader says (the snapshot's data tells the wiring where).
        try fixture.store.append([batchEntry(11, term: 3, first: 40, count: 1)])
        try fixture.reopen()
        #expect(fixture.store.firstIndex() == 11 && fixture.store.lastIndex() == 11)
        #expect(try recordValues(fixture.path) == ["40=v40"])
        #expect(fixture.store.nextOffset == Offset(41))
    }

    @Test func theSingleNodePathWritesOneCommittedEntryPerBatch() throws {
        let fixture = try RaftLogFixture()
        let path = fixture.folder + "/legacy.sqlite3"
        let partition = try LegacyPartitionWriter(path: path)
        try partition.append([TestRecord("a"), TestRecord(key: "k", "b")], timestamp: TimestampMs(5))
        try partition.append([TestRecord](), commits: [OffsetCommit(group: "g", nextOffset: Offset(1), generation: 1, member: "m", committedMs: 5)],
                             timestamp: TimestampMs(6))
        try partition.append([TestRecord("c")], timestamp: TimestampMs(7))
        #expect(partition.lastRaftIndex == 2)
        let connection = try ConnectionFactory.openWriter(path: path, migrations: .partition)
        defer { connection.close() }
        let log = try RaftLogStore(connection: connection, voters: [1])
        #expect(log.hardState() == HardState(term: 1, vote: .none, commit: 2))
        #expect(log.firstIndex() == 1 && log.lastIndex() == 2)
        var second = RecordBatch.Builder(firstOffset: Offset(2))
        second.append(timestamp: TimestampMs(7), key: nil, value: Array("c".utf8))
        let entries = try log.entries(from: 1, upTo: 3, maxBytes: .max)
        #expect(entries.map(\.term) == [1, 1])
        #expect(entries[1] == Entry(index: 2, term: 1, kind: .record, payload: second.finish()))
        #expect(try partition.connection.scalarInt("SELECT count(*) FROM records WHERE term = 1") == 3)
        #expect(try partition.connection.scalarInt("SELECT record_count FROM raft_log WHERE raft_index = 1") == 2)
        partition.close()
    }

    @Test func aSingleVoterNodeDrivenThroughPersistRestartsFromTheFile() throws {
        let fixture = try RaftLogFixture()
        var config = RaftConfig(id: 1, voters: [1])
        config.preVote = false
        var node = RaftNode(config: config, storage: fixture.store, random: Raft.SplitMix64(seed: 1))
        node.campaign()
        var applied: [Entry] = []
        func drain() throws {
            while node.hasReady {
                let ready = node.ready()
                try fixture.store.persist(ready)  // the whole Ready: one transaction, one fsync
                applied += ready.committedEntries
                node.advance(ready)
            }
        }
        try drain()
        // The leader's no-op takes index 1; the batches take the offsets after the stored records.
        try node.propose([Proposal(kind: .record, payload: batchEntry(0, term: 0, first: 0, count: 2).payload)])
        try drain()
        let next = try #require(fixture.store.nextOffset)
        try node.propose([
            Proposal(kind: .record, payload: batchEntry(0, term: 0, first: next.rawValue, count: 3).payload),
            Proposal(kind: .offsetCommit, payload: commitPayload("billing", 5)),
        ])
        try drain()
        #expect(applied.map(\.kind) == [.noOp, .record, .record, .offsetCommit])
        #expect(node.commitIndex == 4)
        #expect(try recordValues(fixture.path) == ["0=v0", "1=v1", "2=v2", "3=v3", "4=v4"])

        let before = node.logEntries()
        try fixture.reopen()
        let restarted = RaftNode(config: config, storage: fixture.store, random: Raft.SplitMix64(seed: 2))
        #expect(restarted.logEntries() == before)
        #expect(restarted.commitIndex == 4 && restarted.term == node.term)
        #expect(try fixture.connection.integrityCheck() == "ok")
    }

    @Test func oneReadyWithASnapshotEntriesAndAHardStateIsOneWrite() throws {
        let fixture = try RaftLogFixture()
        try fixture.store.append([batchEntry(1, term: 1, first: 0, count: 2)])
        var commits = 0
        fixture.store.beforeCommit = { commits += 1 }
        try fixture.store.persist(
            Ready(hardState: HardState(term: 3, vote: 2, commit: 10), entries: [batchEntry(11, term: 3, first: 7, count: 1)],
                  snapshot: Snapshot(index: 10, term: 2, voters: [1, 2, 3], data: [4])))
        #expect(commits == 1)
        try fixture.reopen()
        #expect(try fixture.store.snapshot() == Snapshot(index: 10, term: 2, voters: [1, 2, 3], data: [4]))
        #expect(fixture.store.hardState() == HardState(term: 3, vote: 2, commit: 10))
        #expect(fixture.store.firstIndex() == 11 && fixture.store.lastIndex() == 11)
        #expect(try recordValues(fixture.path) == ["7=v7"])
        #expect(throws: RaftStorageError.snapshotOutOfDate) {
            try fixture.store.persist(snapshot: Snapshot(index: 5, term: 1, voters: [1]), entries: [], hardState: nil)
        }
    }

    /// A Ready that only moves the commit index (mustSync false) is one transaction without an
    /// fsync (synchronous=NORMAL inside it, FULL again after); every other Ready is synced.
    @Test func aReadyThatNeedsNoSyncIsWrittenWithoutFsync() throws {
        let fixture = try RaftLogFixture()
        var levels: [Int64] = []
        fixture.store.beforeCommit = { levels.append((try? fixture.connection.scalarInt("PRAGMA synchronous")) ?? -1) }
        try fixture.store.persist(Ready(
            hardState: HardState(term: 1, vote: 1, commit: 0), entries: [batchEntry(1, term: 1, first: 0, count: 2)], mustSync: true))
        try fixture.store.persist(Ready(hardState: HardState(term: 1, vote: 1, commit: 1), mustSync: false))
        // Entries always sync, whatever the Ready says.
        try fixture.store.persist(Ready(entries: [batchEntry(2, term: 1, first: 2, count: 1)], mustSync: false))
        #expect(levels == [2, 1, 2], "FULL, NORMAL, FULL inside the three transactions")
        #expect(try fixture.connection.scalarInt("PRAGMA synchronous") == 2, "FULL again after")
        try fixture.reopen()
        #expect(fixture.store.hardState() == HardState(term: 1, vote: 1, commit: 1))
        #expect(try recordValues(fixture.path) == ["0=v0", "1=v1", "2=v2"])
    }
}

extension RaftLogStoreTests {
    /// A write whose COMMIT fails throws `writeFailed` (no trap), rolls back, and the store refuses
    /// every write after it; reads still answer from what the last good write left.
    @Test func aFailedCommitThrowsRollsBackAndRefusesLaterWrites() throws {
        let fixture = try RaftLogFixture()
        try fixture.store.persist(
            snapshot: nil, entries: [batchEntry(1, term: 1, first: 0, count: 2)], hardState: HardState(term: 1, vote: 1, commit: 1))
        fixture.store.beforeCommit = { () throws(StorageError) in throw StorageError(code: 1034, message: "injected fsync failure") }
        #expect(throws: RaftStorageError.self) {
            try fixture.store.append([batchEntry(2, term: 1, first: 2, count: 3)])
        }
        fixture.store.beforeCommit = nil
        #expect(fixture.store.lastIndex() == 1)
        #expect(try fixture.store.entries(from: 1, upTo: 2, maxBytes: .max) == [batchEntry(1, term: 1, first: 0, count: 2)])
        #expect(throws: RaftStorageError.self) { try fixture.store.setHardState(HardState(term: 2, vote: 0, commit: 1)) }
        #expect(try recordValues(fixture.path) == ["0=v0", "1=v1"])
        #expect(try fixture.connection.integrityCheck() == "ok")
        try fixture.reopen()
        #expect(fixture.store.lastIndex() == 1)
        #expect(fixture.store.hardState() == HardState(term: 1, vote: 1, commit: 1))
        try fixture.store.append([batchEntry(2, term: 1, first: 2, count: 3)])
        #expect(try recordValues(fixture.path) == ["0=v0", "1=v1", "2=v2", "3=v3", "4=v4"])
    }
}
