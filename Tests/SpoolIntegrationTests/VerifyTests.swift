import Foundation
import NIOCore
import SpoolClient
import SpoolCore
import SpoolStorage
import Testing

/// `VERIFY` on a single broker (issue 10 item 8; with replicas, each one's checksum joins the
/// line): the checksum over every committed record, the same one computed from FETCH and from the
/// partition's file, and a changed or missing row is seen.
@Suite("VERIFY", .timeLimit(.minutes(2)))
struct VerifyTests {
    /// The checksum of partition `partition`'s rows read straight from its SQLite file.
    static func fileChecksum(_ broker: TestBroker, topic: String, partition: Int) throws -> RecordChecksum {
        let connection = try SQLiteConnection(path: broker.dataDirectory + "/topics/\(topic)/\(partition).sqlite3", mode: .readOnly)
        return try Self.checksum(connection)
    }

    static func checksum(_ connection: SQLiteConnection) throws -> RecordChecksum {
        let rows = try connection.prepare("SELECT offset, timestamp_ms, key, value FROM records ORDER BY offset")
        var sum = RecordChecksum()
        while try rows.step() {
            sum.add(
                offset: Offset(rows.columnInt64(0)), timestamp: TimestampMs(rows.columnInt64(1)),
                key: rows.columnIsNull(2) ? nil : rows.columnBytes(2), value: rows.columnBytes(3))
        }
        return sum
    }

    /// The checksum of the records FETCH delivers from `partition`, read in pages to the end.
    static func fetchedChecksum(_ client: SpoolClient, topic: String, partition: Int) async throws -> RecordChecksum {
        var sum = RecordChecksum()
        var next: Int64 = 0
        while true {
            let batch = try await client.fetch(topic: topic, partition: partition, from: .offset(Offset(next)), max: 5_000)
            for message in batch.messages {
                var value = message.value
                let bytes = value.readBytes(length: value.readableBytes) ?? []
                bytes.withUnsafeBytes { v in
                    if let key = message.key {
                        key.withUnsafeBytes { sum.add(offset: message.offset, timestamp: message.timestamp, key: $0, value: v) }
                    } else {
                        sum.add(offset: message.offset, timestamp: message.timestamp, key: nil, value: v)
                    }
                }
            }
            next = batch.next
            if next >= batch.high { return sum }
        }
    }

    @Test("every partition's line: its range, record count and checksum; empty partitions agree on 00000000")
    func emptyAndSmallTopics() async throws {
        try await withTestBroker { broker in
            let socket = try broker.socket()
            #expect(try socket.ask("CREATE v partitions=2") == "OK v partitions=2 replication=1")
            #expect(try socket.askBlock("VERIFY v") == [
                "PARTITION v 0 from=0 upto=0 records=0 replicas=1:00000000 agree",
                "PARTITION v 1 from=0 upto=0 records=0 replicas=1:00000000 agree",
                "END VERIFY v 2",
            ])
            #expect(try socket.ask("PUB v partition=1 key=k :hello") == "OK v 1 0")
            #expect(try socket.ask("PUB v partition=1 :") == "OK v 1 1")
            let expected = try Self.fileChecksum(broker, topic: "v", partition: 1)
            #expect(expected.records == 2)
            #expect(try socket.askBlock("VERIFY v 1") == ["PARTITION v 1 from=0 upto=2 records=2 replicas=1:\(expected.hex) agree", "END VERIFY v 1"])

            // Pipelined between other commands, in order.
            try socket.send("PING\nverify v 0\nPING\n")
            #expect(try socket.readLine() == "PONG")
            #expect(try socket.readLine() == "PARTITION v 0 from=0 upto=0 records=0 replicas=1:00000000 agree")
            #expect(try socket.readLine() == "END VERIFY v 1")
            #expect(try socket.readLine() == "PONG")

            #expect(try socket.ask("VERIFY nosuch").hasPrefix("ERR UNKNOWN_TOPIC "))
            #expect(try socket.ask("VERIFY v 2") == "ERR UNKNOWN_PARTITION topic v has partitions 0...1, not 2")
            #expect(try socket.ask("VERIFY").hasPrefix("ERR BAD_ARGUMENT "))
        }
    }

    @Test("12,000 records (read in two storage tasks): VERIFY's checksum is the file's and FETCH's; a changed value changes it, a missing row is an ERR")
    func largePartitionAndTampering() async throws {
        try await withTestBroker { broker in
            let client = try await broker.client()
            try await client.createTopic("big")
            let count = 12_000
            for start in stride(from: 0, to: count, by: 6_000) {
                let records = (start..<(start + 6_000)).map { n in
                    OutgoingRecord(
                        topic: "big", key: n % 3 == 0 ? nil : Array("k\(n % 7)".utf8), value: ByteBuffer(string: "value \(n)"), partition: 0)
                }
                _ = try await client.publish(batch: records)
            }
            let fromFile = try Self.fileChecksum(broker, topic: "big", partition: 0)
            let fromFetch = try await Self.fetchedChecksum(client, topic: "big", partition: 0)
            await client.close()
            #expect(fromFile.records == Int64(count))
            #expect(fromFetch == fromFile)

            let socket = try broker.socket(timeoutSeconds: 30)
            let line = "PARTITION big 0 from=0 upto=\(count) records=\(count) replicas=1:\(fromFile.hex) agree"
            #expect(try socket.askBlock("VERIFY big") == [line, "END VERIFY big 1"])

            // An operator's write to the file (what VERIFY exists to catch between replicas).
            let path = broker.dataDirectory + "/topics/big/0.sqlite3"
            let writer = try SQLiteConnection(path: path, mode: .readWrite)
            defer { writer.close() }
            try writer.execute("UPDATE records SET value = CAST('tampered' AS BLOB) WHERE offset = 10345")
            let tampered = try socket.askBlock("VERIFY big 0")
            #expect(tampered.count == 2 && tampered[0].hasPrefix("PARTITION big 0 from=0 upto=\(count) records=\(count) replicas=1:"))
            #expect(tampered[0] != line, "a changed value changes the checksum")
            #expect(tampered[0] == "PARTITION big 0 from=0 upto=\(count) records=\(count) replicas=1:\(try Self.fileChecksum(broker, topic: "big", partition: 0).hex) agree")

            try writer.execute("DELETE FROM records WHERE offset = 10001")
            #expect(try socket.ask("VERIFY big 0") == "ERR STORAGE partition 0 of big has no record at offset 10001 below its high watermark 12000")
            #expect(try socket.ask("PING") == "PONG")
        }
    }
}
