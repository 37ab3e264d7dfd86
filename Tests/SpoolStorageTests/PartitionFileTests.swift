import CSQLite
import Foundation
import SpoolCore
import SpoolLegacyFormat
import Testing

@testable import SpoolStorage

/// A record to append, from plain arrays.
struct TestRecord: AppendRecord {
    var key: [UInt8]?
    var value: [UInt8]

    init(key: String? = nil, _ value: String) {
        self.key = key.map { Array($0.utf8) }
        self.value = Array(value.utf8)
    }

    init(key: [UInt8]?, value: [UInt8]) {
        self.key = key
        self.value = value
    }

    func withKeyAndValue<R>(_ body: (UnsafeRawBufferPointer?, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try value.withUnsafeBytes { valueBytes in
            if let key { return try key.withUnsafeBytes { try body($0, valueBytes) } }
            return try body(nil, valueBytes)
        }
    }
}

/// What the reader handed out, copied out of the borrowed views.
struct ReadRecord: Equatable {
    var offset: Int64
    var timestamp: Int64
    var key: [UInt8]?
    var value: [UInt8]
}

func readAll(_ reader: PartitionReader, from: Int64 = 0, below: Int64 = .max, max: Int = 1_000_000, maxBytes: Int = .max) throws -> [ReadRecord] {
    var records: [ReadRecord] = []
    try reader.read(from: Offset(from), below: Offset(below), maxRecords: max, maxBytes: maxBytes) { view in
        records.append(
            ReadRecord(offset: view.offset.rawValue, timestamp: view.timestamp.rawValue, key: view.key.map { Array($0) }, value: Array(view.value)))
    }
    return records
}

func temporaryDatabase() -> String {
    let folder = NSTemporaryDirectory() + "spool-storage-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    return folder + "/0.sqlite3"
}

/// Partition files as the broker wrote them before replication (`LegacyPartitionWriter`, the
/// migration tests' fixture writer), read by `PartitionReader`, the read path of every broker.
@Suite("Partition files and their reader (real SQLite files)")
struct PartitionFileTests {
    @Test func appendsGetConsecutiveOffsetsAndReadBack() throws {
        let path = temporaryDatabase()
        let store = try LegacyPartitionWriter(path: path)
        #expect(store.nextOffset == .zero)
        let first = try store.append([TestRecord(key: "k1", "a"), TestRecord("b")], timestamp: TimestampMs(1000))
        let second = try store.append([TestRecord(key: "k2", "c")], timestamp: TimestampMs(2000))
        #expect(first == Offset(0))
        #expect(second == Offset(2))
        #expect(store.nextOffset == Offset(3))

        let reader = try PartitionReader(path: path)
        let records = try readAll(reader)
        #expect(records.map(\.offset) == [0, 1, 2])
        #expect(records.map { String(decoding: $0.value, as: UTF8.self) } == ["a", "b", "c"])
        #expect(records[0].key == Array("k1".utf8))
        #expect(records[1].key == nil)
        #expect(records.map(\.timestamp) == [1000, 1000, 2000])
    }

    @Test func readsRespectRangeCountAndBytes() throws {
        let path = temporaryDatabase()
        let store = try LegacyPartitionWriter(path: path)
        try store.append((0..<10).map { TestRecord("value-\($0)") }, timestamp: TimestampMs(1))
        let reader = try PartitionReader(path: path)
        #expect(try readAll(reader, from: 3, below: 6).map(\.offset) == [3, 4, 5])
        #expect(try readAll(reader, from: 0, max: 4).map(\.offset) == [0, 1, 2, 3])
        // 7-byte values: the read stops after the record that reaches maxBytes, never before the first.
        #expect(try readAll(reader, from: 0, maxBytes: 15).map(\.offset) == [0, 1, 2])
        #expect(try readAll(reader, from: 0, maxBytes: 1).map(\.offset) == [0])
        #expect(try readAll(reader, from: 10).isEmpty)
    }

    @Test func reopeningResumesAtTheNextOffset() throws {
        let path = temporaryDatabase()
        do {
            let store = try LegacyPartitionWriter(path: path)
            try store.append([TestRecord("a"), TestRecord("b")], timestamp: TimestampMs(5000))
            store.close()
        }
        let reopened = try LegacyPartitionWriter(path: path)
        #expect(reopened.nextOffset == Offset(2))
        #expect(reopened.lastTimestamp == TimestampMs(5000))
        #expect(try reopened.append([TestRecord("c")], timestamp: TimestampMs(6000)) == Offset(2))
    }

    @Test func firstOffsetAtOrAfterATime() throws {
        let path = temporaryDatabase()
        let store = try LegacyPartitionWriter(path: path)
        try store.append([TestRecord("a"), TestRecord("b")], timestamp: TimestampMs(1000))
        try store.append([TestRecord("c")], timestamp: TimestampMs(2000))
        try store.append([TestRecord("d")], timestamp: TimestampMs(3000))
        let reader = try PartitionReader(path: path)
        #expect(try reader.firstOffset(atOrAfter: TimestampMs(0)) == Offset(0))
        #expect(try reader.firstOffset(atOrAfter: TimestampMs(1000)) == Offset(0))
        #expect(try reader.firstOffset(atOrAfter: TimestampMs(1001)) == Offset(2))
        #expect(try reader.firstOffset(atOrAfter: TimestampMs(3000)) == Offset(3))
        #expect(try reader.firstOffset(atOrAfter: TimestampMs(3001)) == nil)
        // The lookup uses the timestamp index, not a scan of the records table.
        let connection = try SQLiteConnection(path: path, mode: .readOnly)
        let plan = try connection.prepare("EXPLAIN QUERY PLAN SELECT offset FROM records WHERE timestamp_ms >= 5 ORDER BY timestamp_ms, offset LIMIT 1")
        var details: [String] = []
        while try plan.step() { details.append(plan.columnText(3) ?? "") }
        #expect(details.contains { $0.contains("records_by_timestamp") })
    }

    @Test func binaryAndTextAreStoredSoSQLiteUsersCanReadThem() throws {
        let path = temporaryDatabase()
        let store = try LegacyPartitionWriter(path: path)
        let binary: [UInt8] = [0x00, 0xFF, 0x0A, 0x0D, 0x41]
        try store.append([TestRecord(key: "user-42", "héllo"), TestRecord(key: binary, value: binary), TestRecord(key: nil, value: [])], timestamp: TimestampMs(1))
        let connection = try SQLiteConnection(path: path, mode: .readOnly)
        let types = try connection.prepare("SELECT typeof(key), typeof(value) FROM records ORDER BY offset")
        var seen: [String] = []
        while try types.step() { seen.append("\(types.columnText(0) ?? "")/\(types.columnText(1) ?? "")") }
        #expect(seen == ["text/text", "blob/blob", "null/text"])
        #expect(try connection.scalarText("SELECT value FROM messages WHERE key = 'user-42'") == "héllo")
        #expect(try connection.scalarText("SELECT value FROM messages WHERE offset = 1") == "x'00FF0A0D41'")
        #expect(try connection.scalarInt("SELECT value_bytes FROM messages WHERE offset = 0") == 6)
        // Round trip is byte-exact whatever the storage class.
        let records = try readAll(try PartitionReader(path: path))
        #expect(records[1].value == binary)
        #expect(records[1].key == binary)
        #expect(records[2].value == [])
    }

    @Test func pragmasAreSetForDurability() throws {
        // On the connection that writes the records (a broker's partition replica), not on a new one.
        let store = try RaftLogStore.openPartition(path: temporaryDatabase(), voters: [1], busyWaitMs: 0)
        defer { store.connection.close() }
        #expect(try store.connection.scalarText("PRAGMA journal_mode") == "wal")
        #expect(try store.connection.scalarInt("PRAGMA synchronous") == 2)
        #expect(try store.connection.scalarInt("PRAGMA wal_autocheckpoint") == 1000)
        #expect(try store.connection.scalarInt("PRAGMA busy_timeout") == 0, "a broker's writes never sleep on a lock")
        #expect(try store.connection.integrityCheck() == "ok")
    }

    /// SQLite's memory statistics take a global mutex around every allocation; the first
    /// connection turns them off for the process (SQLiteConnection.processSettings). With them
    /// off, SQLite reports no memory in use however much it allocated.
    @Test func sqliteKeepsNoMemoryStatistics() throws {
        let store = try LegacyPartitionWriter(path: temporaryDatabase())
        try store.append((0..<100).map { TestRecord("value-\($0)") }, timestamp: TimestampMs(1))
        #expect(sqlite3_memory_used() == 0)
    }

    @Test func aReaderSeesOnlyCommittedRecordsWhileTheWriterWrites() throws {
        let path = temporaryDatabase()
        let store = try LegacyPartitionWriter(path: path)
        try store.append([TestRecord("committed")], timestamp: TimestampMs(1))
        let reader = try PartitionReader(path: path)
        let writer = try SQLiteConnection(path: path, mode: .readWrite)
        try writer.execute("BEGIN IMMEDIATE; INSERT INTO records (offset, timestamp_ms, value) VALUES (1, 1, 'uncommitted')")
        #expect(try readAll(reader).map(\.offset) == [0])
        try writer.execute("ROLLBACK")
    }

    /// After a failed write, what its transaction may have left (here written by another
    /// connection, as a replayed WAL would bring it back) is removed with its Raft entries and
    /// their records, and a store opened afterwards goes on at the first offset of the failed write.
    @Test func discardingAFailedWriteRemovesItsEntriesAndRecords() throws {
        let path = temporaryDatabase()
        let writer = try LegacyPartitionWriter(path: path)
        try writer.append([TestRecord("a"), TestRecord("b"), TestRecord("c")], timestamp: TimestampMs(1))
        writer.close()
        let other = try SQLiteConnection(path: path, mode: .readWrite)
        try other.execute(
            """
            BEGIN;
            INSERT INTO records (offset, term, timestamp_ms, key, value) VALUES (3, 1, 2, NULL, 'x'), (4, 1, 2, NULL, 'y');
            INSERT INTO raft_log (raft_index, term, kind, first_offset, record_count) VALUES (2, 1, 0, 3, 2);
            INSERT INTO raft_log (raft_index, term, kind, payload) VALUES (3, 1, 3, x'');
            UPDATE raft_state SET commit_index = 3;
            COMMIT
            """)
        let connection = try RaftLogStore.openPartitionConnection(path: path)
        #expect(try RaftLogStore.discardEntries(after: 1, on: connection) == 2)
        #expect(try other.scalarInt("SELECT max(raft_index) FROM raft_log") == 1)
        #expect(try other.scalarInt("SELECT commit_index FROM raft_state") == 1)
        #expect(try other.scalarInt("SELECT count(*) FROM consumer_offsets") == 0, "the write probe leaves nothing")
        // Nothing to remove: it still commits (and so fsyncs), and removes nothing.
        #expect(try RaftLogStore.discardEntries(after: 1, on: connection) == 0)
        let store = try RaftLogStore(connection: connection, voters: [1])
        #expect(store.lastIndex() == 1 && store.nextOffset == Offset(3))
        #expect(try connection.integrityCheck() == "ok")
        #expect(try readAll(try PartitionReader(path: path)).map { String(decoding: $0.value, as: UTF8.self) } == ["a", "b", "c"])
        connection.close()
        other.close()
    }
}

@Suite("Migrations")
struct MigrationTests {
    @Test func migrationsRunOnceAndAreRecorded() throws {
        let path = temporaryDatabase()
        _ = try ConnectionFactory.openWriter(path: path, migrations: .partition)
        let again = try ConnectionFactory.openWriter(path: path, migrations: .partition)
        #expect(try again.scalarInt("PRAGMA user_version") == Int64(MigrationSet.partition.latestVersion))
        #expect(try again.scalarInt("SELECT count(*) FROM spool_migrations") == Int64(MigrationSet.partition.migrations.count))
    }

    @Test func aDatabaseFromANewerBinaryIsRefused() throws {
        let path = temporaryDatabase()
        let connection = try ConnectionFactory.openWriter(path: path, migrations: .partition)
        try connection.execute("PRAGMA user_version = 999")
        #expect(throws: StorageError.self) { _ = try RaftLogStore.openPartition(path: path, voters: [1]) }
    }

    @Test func theEmbeddedSchemaIsTheMigrationsFolder() throws {
        // The binary embeds migrations/ at build time; check it matches the files byte for byte.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for set in [MigrationSet.partition, MigrationSet.broker] {
            let folder = root.appendingPathComponent("migrations/\(set.name)")
            let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
            #expect(files.count == set.migrations.count)
            for (file, migration) in zip(files, set.migrations) {
                #expect(file == String(format: "%04d_%@.sql", migration.version, migration.name))
                let sql = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
                #expect(sql == migration.sql || sql == migration.sql + "\n")
            }
        }
    }
}

@Suite("Broker metadata store")
struct MetadataStoreTests {
    @Test func topicsPersist() throws {
        let path = temporaryDatabase()
        do {
            let store = try MetadataStore(path: path)
            try store.insert(TopicRecord(name: "b", partitions: 2, createdMs: 10))
            try store.insert(TopicRecord(name: "a", partitions: 1, createdMs: 11))
        }
        let store = try MetadataStore(path: path)
        #expect(try store.topics().map(\.name) == ["a", "b"])
        try store.delete(topic: "a")
        #expect(try store.topics() == [TopicRecord(name: "b", partitions: 2, createdMs: 10)])
    }
}

extension LegacyPartitionWriter {
    /// The fixture records of these tests, appended as the old broker's group commit did.
    @discardableResult
    func append(_ records: [TestRecord], commits: [OffsetCommit] = [], timestamp: TimestampMs) throws -> Offset {
        try append(records.map(\.value), keys: records.map(\.key), commits: commits, timestamp: timestamp)
    }

    func integrityCheck() throws -> String { try connection.integrityCheck() }
}

@Suite("Offset commits as a Raft entry's payload")
struct OffsetCommitPayloadTests {
    @Test func commitsRoundTripAndMalformedPayloadsAreRefused() {
        let commits = [
            OffsetCommit(group: "billing", nextOffset: Offset(700), generation: 4, member: "m-1", committedMs: 5_000),
            OffsetCommit(group: "é-group", nextOffset: Offset(0), generation: -1, member: "", committedMs: -3),
        ]
        let payload = OffsetCommit.encodePayload(commits)
        #expect(OffsetCommit.decodePayload(payload) == commits)
        #expect(OffsetCommit.decodePayload(OffsetCommit.encodePayload([])) == [])
        #expect(OffsetCommit.decodePayload(Array(payload.dropLast())) == nil, "truncated")
        #expect(OffsetCommit.decodePayload(payload + [0]) == nil, "trailing bytes")
        #expect(OffsetCommit.decodePayload([]) == nil)
    }
}
