import Foundation
import Raft
import SpoolCore
import SpoolLegacyFormat
import Testing

@testable import SpoolStorage

/// Writes a partition as the broker did before migration 0003: schema version 2, records
/// inserted with the statement PartitionStore used then (term 0), and a consumer commit.
func writeLegacyPartition(_ path: String, records: Int) throws {
    let legacy = MigrationSet(name: "partition", migrations: MigrationSet.partition.migrations.filter { $0.version <= 2 })
    let connection = try ConnectionFactory.openWriter(path: path, migrations: legacy)
    defer { connection.close() }
    try connection.execute("BEGIN IMMEDIATE")
    for offset in 0 ..< records {
        let insert = try connection.prepare("INSERT INTO records (offset, term, timestamp_ms, key, value) VALUES (?, ?, ?, ?, ?)")
        try insert.bind(1, Int64(offset))
        try insert.bind(2, 0)
        try insert.bind(3, 1000 + Int64(offset))
        try insert.bindText(4, "k\(offset)")
        try insert.bindText(5, "v\(offset)")
        try insert.step()
    }
    if records > 0 {
        try connection.execute(
            "INSERT INTO consumer_offsets (group_name, next_offset, generation, member, committed_ms) VALUES ('billing', \(records - 1), 3, 'm-1', 99)")
    }
    try connection.execute("COMMIT")
    #expect(try connection.scalarInt("PRAGMA user_version") == 2)
}

@Suite("Raft log migration of today's partitions (real files)", .timeLimit(.minutes(1)))
struct RaftLogMigrationTests {
    @Test func aPartitionWithRecordsBecomesASnapshotAtIndexOne() throws {
        let fixtureFolder = temporaryDatabase()
        defer { try? FileManager.default.removeItem(atPath: (fixtureFolder as NSString).deletingLastPathComponent) }
        try writeLegacyPartition(fixtureFolder, records: 5)

        let partition = try LegacyPartitionWriter(path: fixtureFolder)
        defer { partition.close() }
        #expect(partition.nextOffset == Offset(5))
        #expect(partition.lastRaftIndex == 1)
        let reader = try PartitionReader(path: fixtureFolder)
        #expect(try readAll(reader).map { "\($0.offset)=\(String(decoding: $0.value, as: UTF8.self))" } == (0 ..< 5).map { "\($0)=v\($0)" })
        #expect(try reader.committedOffset(group: "billing") == OffsetCommit(group: "billing", nextOffset: Offset(4), generation: 3, member: "m-1", committedMs: 99))

        // Today's broker opens the file with its own connection, migrated to the newest schema.
        let connection = try ConnectionFactory.openWriter(path: fixtureFolder, migrations: .partition)
        defer { connection.close() }
        let log = try RaftLogStore(connection: connection, voters: [1])
        #expect(log.offsetsAppliedIndex == 1, "the commit written before offset commits were Raft entries counts as applied")
        #expect(log.firstIndex() == 2)
        #expect(log.lastIndex() == 1)
        #expect(try log.term(at: 1) == 1)
        #expect(throws: RaftStorageError.compacted) { try log.term(at: 0) }
        #expect(throws: RaftStorageError.unavailable) { try log.term(at: 2) }
        #expect(log.hardState() == HardState(term: 1, vote: .none, commit: 1))
        #expect(try log.snapshot() == Snapshot(index: 1, term: 1, voters: [1]))
        #expect(log.nextOffset == Offset(5))

        // Today's path goes on from there: the next batch is entry 2, committed.
        try partition.append([TestRecord("v5")], timestamp: TimestampMs(2000))
        let reopened = try RaftLogStore(connection: connection, voters: [1])
        #expect(reopened.lastIndex() == 2)
        #expect(reopened.hardState().commit == 2)
        var batch = RecordBatch.Builder(firstOffset: Offset(5))
        batch.append(timestamp: TimestampMs(2000), key: nil, value: Array("v5".utf8))
        #expect(try reopened.entries(from: 2, upTo: 3, maxBytes: .max) == [Entry(index: 2, term: 1, kind: .record, payload: batch.finish())])
        #expect(try partition.integrityCheck() == "ok")
    }

    @Test func anEmptyPartitionStartsFromNothing() throws {
        let path = temporaryDatabase()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        try writeLegacyPartition(path, records: 0)
        let connection = try ConnectionFactory.openWriter(path: path, migrations: .partition)
        defer { connection.close() }
        let log = try RaftLogStore(connection: connection, voters: [1, 2, 3])
        #expect(log.firstIndex() == 1 && log.lastIndex() == 0)
        #expect(try log.term(at: 0) == 0)
        #expect(log.hardState() == .empty)
        #expect(try log.snapshot() == Snapshot(index: 0, term: 0, voters: [1, 2, 3]))
        #expect(log.nextOffset == nil)
        #expect(log.offsetsAppliedIndex == 0)
        #expect(try connection.scalarInt("PRAGMA user_version") == Int64(MigrationSet.partition.latestVersion))
    }
}
