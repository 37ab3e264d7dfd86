import Foundation
import SpoolCore
import SpoolLegacyFormat
import SpoolStorage
import Testing

/// Issue 10 item 1: a data folder written by the broker before partitions were Raft groups opens
/// with today's spoold (every partition a Raft group of one voter), every record at its offset and
/// every committed group offset intact, and writing goes on after them.
@Suite("A data folder from before replication opens with every record and offset", .timeLimit(.minutes(2)))
struct LegacyFolderMigrationTests {
    /// The values of the records written, by topic/partition and offset.
    typealias Written = [String: [Int64: String]]

    /// Makes the folder as the old broker left it: broker.sqlite3 with the topics, `orders/0` and
    /// `empty/0` written by its group commit (schema 3: `LegacyPartitionWriter`), and `orders/1`
    /// by a broker older still (schema 2, before the Raft tables), each with committed offsets.
    private func writeLegacyFolder(_ folder: String) throws -> Written {
        try FileManager.default.createDirectory(atPath: folder + "/topics/orders", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder + "/topics/empty", withIntermediateDirectories: true)
        do {
            let metadata = try MetadataStore(path: folder + "/broker.sqlite3")
            try metadata.insert(TopicRecord(name: "orders", partitions: 2, createdMs: 1_000))
            try metadata.insert(TopicRecord(name: "empty", partitions: 1, createdMs: 1_000))
            try metadata.checkpoint()
        }
        var written: Written = [:]
        let writer = try LegacyPartitionWriter(path: folder + "/topics/orders/0.sqlite3")
        for batch in 0 ..< 3 {
            let values = (0 ..< 500).map { "order-\(batch * 500 + $0)" }
            let first = try writer.append(
                values.map { Array($0.utf8) }, keys: values.indices.map { $0 % 2 == 0 ? Array("k\($0 % 7)".utf8) : nil },
                commits: batch == 2
                    ? [
                        OffsetCommit(group: "billing", nextOffset: Offset(700), generation: 4, member: "m-1", committedMs: 5_000),
                        OffsetCommit(group: "audit", nextOffset: Offset(1_500), generation: 2, member: "m-2", committedMs: 5_000),
                    ] : [],
                timestamp: TimestampMs(10_000 + Int64(batch)))
            for (index, value) in values.enumerated() { written["orders/0", default: [:]][first.rawValue + Int64(index)] = value }
        }
        writer.close()
        try LegacyPartitionWriter(path: folder + "/topics/empty/0.sqlite3").close()

        let older = try ConnectionFactory.openWriter(path: folder + "/topics/orders/1.sqlite3", migrations: .partition(through: 2))
        try older.execute("BEGIN IMMEDIATE")
        for offset in 0 ..< 20 {
            try older.execute("INSERT INTO records (offset, term, timestamp_ms, key, value) VALUES (\(offset), 0, \(2_000 + offset), NULL, 'old-\(offset)')")
            written["orders/1", default: [:]][Int64(offset)] = "old-\(offset)"
        }
        try older.execute(
            "INSERT INTO consumer_offsets (group_name, next_offset, generation, member, committed_ms) VALUES ('billing', 5, 3, 'm-1', 99)")
        try older.execute("COMMIT")
        #expect(try older.scalarInt("PRAGMA user_version") == 2)
        try older.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        older.close()
        return written
    }

    /// Every record of a partition, read with FETCH.
    private func fetchAll(_ socket: RawSocket, _ topic: String, _ partition: Int) throws -> [Int64: String] {
        var records: [Int64: String] = [:]
        var next: Int64 = 0
        while true {
            let lines = try socket.askBlock("FETCH \(topic) \(partition) \(next) max=1000")
            var index = 0
            while index + 1 < lines.count, lines[index].hasPrefix("MSG \(topic) \(partition) ") {
                let fields = lines[index].split(separator: " ")
                records[Int64(fields[3]) ?? -1] = lines[index + 1]
                index += 2
            }
            guard let end = lines.last, end.hasPrefix("END \(topic) \(partition) "), let field = end.split(separator: " ").first(where: { $0.hasPrefix("next=") }),
                let fetchedTo = Int64(field.dropFirst(5))
            else {
                Issue.record("unexpected FETCH reply \(lines.suffix(2))")
                return records
            }
            if fetchedTo == next { return records }
            next = fetchedTo
        }
    }

    /// The committed offset of `group` in each partition of `topic`, from `GROUP`.
    private func committed(_ socket: RawSocket, group: String, topic: String) throws -> [String] {
        try socket.askBlock("GROUP \(group)").filter { $0.hasPrefix("LAG \(topic) ") }.map { line in
            let fields = line.split(separator: " ")
            return "\(fields[2]):" + (fields.first { $0.hasPrefix("committed=") }?.dropFirst(10) ?? "?")
        }
    }

    @Test func everyRecordAndCommittedOffsetSurvivesAndWritesGoOn() async throws {
        try await withTemporaryFolder { folder in
            var written = try writeLegacyFolder(folder)
            try await withSpoold(on: folder) { spoold in
                let socket = try RawSocket(port: spoold.port)
                #expect(try fetchAll(socket, "orders", 0) == written["orders/0"])
                #expect(try fetchAll(socket, "orders", 1) == written["orders/1"])
                #expect(try fetchAll(socket, "empty", 0).isEmpty)
                #expect(try committed(socket, group: "billing", topic: "orders") == ["0:700", "1:5"])
                #expect(try committed(socket, group: "audit", topic: "orders") == ["0:1500", "1:-"])
                // Writing goes on at the next offsets, and offset commits are Raft entries now.
                #expect(try socket.ask("PUB orders partition=0 :after-0") == "OK orders 0 1500")
                #expect(try socket.ask("PUB orders partition=1 :after-1") == "OK orders 1 20")
                #expect(try socket.ask("PUB empty :first") == "OK empty 0 0")
                written["orders/0"]![1_500] = "after-0"
                written["orders/1"]![20] = "after-1"
                #expect(spoold.terminate() == 0)
            }
            // The files: migrated to the newest schema, one Raft group of voter 1 each, sound.
            for (path, count) in [("orders/0", 1_501), ("orders/1", 21), ("empty/0", 1)] {
                let connection = try SQLiteConnection(path: folder + "/topics/\(path).sqlite3", mode: .readOnly)
                defer { connection.close() }
                #expect(try connection.integrityCheck() == "ok")
                #expect(try connection.scalarInt("SELECT count(*) FROM records") == Int64(count), "\(path)")
                #expect(try connection.scalarText("SELECT voters FROM raft_state") == "1", "\(path)")
                #expect(try connection.scalarInt("PRAGMA user_version") == Int64(MigrationSet.partition(through: .max).latestVersion))
            }
            // And a second start of today's broker finds the same.
            try await withSpoold(on: folder) { spoold in
                let socket = try RawSocket(port: spoold.port)
                #expect(try fetchAll(socket, "orders", 0) == written["orders/0"])
                #expect(try fetchAll(socket, "orders", 1) == written["orders/1"])
                #expect(try committed(socket, group: "billing", topic: "orders") == ["0:700", "1:5"])
                #expect(try socket.ask("PUB orders partition=0 :again") == "OK orders 0 1501")
            }
        }
    }
}
