import Foundation
import NIOCore
import SpoolClient
import SpoolCore
import SpoolProtocol
import Testing

/// The broker over real TCP on 127.0.0.1 through the client library.
@Suite("Broker end to end (client over loopback)", .timeLimit(.minutes(1)))
struct EndToEndTests {
    @Test func topicsCanBeCreatedListedDescribedAndDropped() async throws {
        try await withTestBroker { broker in
            let client = try await broker.client()
            try await client.ping()
            #expect(try await client.createTopic("orders", partitions: 3) == "OK orders partitions=3 replication=1")
            try await client.createTopic("audit")
            #expect(try await client.topics() == [TopicInfo(name: "audit", partitions: 1), TopicInfo(name: "orders", partitions: 3)])
            await #expect(throws: SpoolClientError.server(code: "TOPIC_EXISTS", message: "topic orders already exists")) {
                try await client.createTopic("orders")
            }
            _ = try await client.publish(topic: "orders", value: "x", partition: 2)
            let partitions = try await client.describe("orders")
            #expect(partitions.map(\.partition) == [0, 1, 2])
            #expect(partitions.map(\.high) == [0, 0, 1])
            #expect(partitions[2].records == 1)
            #expect(partitions.allSatisfy { $0.bytes > 0 })

            try await client.dropTopic("orders")
            #expect(try await client.topics().map(\.name) == ["audit"])
            #expect(!FileManager.default.fileExists(atPath: broker.dataDirectory + "/topics/orders"))
            await #expect(throws: SpoolClientError.self) { _ = try await client.describe("orders") }
            // The name can be used again, and the new topic starts empty.
            try await client.createTopic("orders", partitions: 1)
            #expect(try await client.describe("orders").map(\.high) == [0])
            await client.close()
        }
    }

    @Test func anyBytesRoundTripAtTheirOffsets() async throws {
        try await withTestBroker { broker in
            let client = try await broker.client()
            try await client.createTopic("bin", partitions: 1)
            let values: [[UInt8]] = [
                [], [0], Array("line\nbreak\r\nand more".utf8), (0...255).map { UInt8($0) }, Array(repeating: 0x0A, count: 10_000),
            ]
            let keys: [[UInt8]?] = [nil, Array("plain".utf8), [0, 1, 2, 0xFF], Array("-".utf8), Array("base64:x".utf8)]
            for (index, value) in values.enumerated() {
                let ack = try await client.publish(OutgoingRecord(topic: "bin", key: keys[index], value: ByteBuffer(bytes: value)))
                #expect(ack == PublishAck(topic: "bin", partition: 0, offset: Int64(index)))
            }
            let batch = try await client.fetch(topic: "bin", partition: 0, from: .earliest)
            #expect(batch.messages.map { Array(buffer: $0.value) } == values)
            #expect(batch.messages.map(\.key) == keys)
            #expect(batch.messages.map(\.offset.rawValue) == [0, 1, 2, 3, 4])
            #expect(batch.next == 5 && batch.high == 5)
            // FETCH from the middle and with max=.
            let middle = try await client.fetch(topic: "bin", partition: 0, from: .offset(Offset(2)), max: 2)
            #expect(middle.messages.map(\.offset.rawValue) == [2, 3])
            #expect(middle.next == 4)
            await client.close()
        }
    }

    @Test func keyedRecordsGoWhereKafkaWouldPutThem() async throws {
        try await withTestBroker { broker in
            let client = try await broker.client()
            try await client.createTopic("keyed", partitions: 7)
            for key in ["21", "foobar", "abc", "user-42", "a-little-bit-long-string"] {
                let ack = try await client.publish(topic: "keyed", key: key, value: "v")
                #expect(ack.partition == Int(Partitioner.partition(forKey: Array(key.utf8), partitionCount: 7).rawValue))
            }
            // Keyless records are spread over every partition.
            var used = Set<Int>()
            for _ in 0..<14 { used.insert(try await client.publish(topic: "keyed", value: "spread").partition) }
            #expect(used.count == 7)
            await client.close()
        }
    }

    @Test func pipelinedProducersGetGaplessOffsets() async throws {
        try await withTestBroker { broker in
            try await broker.client().createTopic("busy", partitions: 1)
            let producers = 4
            let perProducer = 500
            let acks = try await withThrowingTaskGroup(of: [PublishAck].self) { group in
                for producer in 0..<producers {
                    group.addTask {
                        let client = try await broker.client()
                        defer { Task { await client.close() } }
                        let records = (0..<perProducer).map { OutgoingRecord(topic: "busy", value: "p\(producer)-\($0)") }
                        return try await client.publish(batch: records)
                    }
                }
                var all: [PublishAck] = []
                for try await acks in group { all += acks }
                return all
            }
            let offsets = acks.compactMap(\.offset).sorted()
            #expect(offsets == Array(0..<Int64(producers * perProducer)))
            // Every value is stored at the offset its ack named.
            let client = try await broker.client()
            var stored: [Int64: String] = [:]
            var next: Int64 = 0
            while next < Int64(producers * perProducer) {
                let batch = try await client.fetch(topic: "busy", partition: 0, from: .offset(Offset(next)))
                for message in batch.messages { stored[message.offset.rawValue] = message.valueString }
                next = batch.next
            }
            #expect(stored.count == producers * perProducer)
            // Within one connection, offsets follow the order records were sent.
            let client2 = try await broker.client()
            let ordered = try await client2.publish(batch: (0..<100).map { OutgoingRecord(topic: "busy", value: "o\($0)") })
            #expect(ordered.compactMap(\.offset) == Array(ordered[0].offset!..<(ordered[0].offset! + 100)))
            await client.close()
            await client2.close()
        }
    }

    @Test func offsetsFindRecordsByTime() async throws {
        try await withTestBroker { broker in
            let client = try await broker.client()
            try await client.createTopic("timed", partitions: 1)
            let before = WallClock.nowMs()
            _ = try await client.publish(topic: "timed", value: "first")
            try await eventually("the clock to move") { WallClock.nowMs() > before + 5 }
            let middle = WallClock.nowMs()
            try await eventually("the clock to move") { WallClock.nowMs() > middle }
            _ = try await client.publish(topic: "timed", value: "second")
            let offsets = try await client.offsets(topic: "timed", partition: 0)
            #expect(offsets == PartitionOffsets(earliest: 0, latest: 2, atTime: nil))
            #expect(try await client.offsets(topic: "timed", partition: 0, time: 0).atTime == 0)
            #expect(try await client.offsets(topic: "timed", partition: 0, time: middle).atTime == 1)
            #expect(try await client.offsets(topic: "timed", partition: 0, time: WallClock.nowMs() + 60_000).atTime == 2)
            // The record it finds carries a timestamp at or after the asked time.
            let replay = try await client.fetch(topic: "timed", partition: 0, from: .offset(Offset(1)), max: 1)
            #expect(replay.messages[0].timestamp.rawValue >= middle)
            await client.close()
        }
    }

    @Test func fetchWaitLongPollsUntilARecordArrives() async throws {
        try await withTestBroker { broker in
            let consumer = try await broker.client()
            let producer = try await broker.client()
            try await consumer.createTopic("poll", partitions: 1)
            // Nothing there: the wait ends empty once its time passes.
            let started = ContinuousClock.now
            let empty = try await consumer.fetch(topic: "poll", partition: 0, from: .latest, waitMs: 200)
            #expect(empty.messages.isEmpty && empty.next == 0)
            #expect(ContinuousClock.now - started >= .milliseconds(190))
            // A record published meanwhile ends the wait early.
            let answered = Slot<ContinuousClock.Instant>()
            let waited = Task {
                let batch = try await consumer.fetch(topic: "poll", partition: 0, from: .offset(Offset(0)), waitMs: 30_000)
                answered.value = .now
                return batch
            }
            // Publish only once the broker has the FETCH (so it is really waiting, not answered
            // after the record arrived): requests_total counts CREATE, both FETCHes and each
            // STATS asked here.
            var asked = 0
            try await eventually("the FETCH to reach the broker") {
                asked += 1
                return try await producer.stats()["requests_total"] ?? 0 >= Int64(3 + asked)
            }
            #expect(answered.value == nil, "the FETCH waits for a record")
            let published = ContinuousClock.now
            _ = try await producer.publish(topic: "poll", value: "wake up")
            let batch = try await withDeadline(.seconds(10), "long poll") { try await waited.value }
            #expect(batch.messages.map(\.valueString) == ["wake up"])
            #expect(try #require(answered.value) >= published, "answered by the record, not before it")
            await consumer.close()
            await producer.close()
        }
    }

    @Test func subscriptionsReplayThenFollowEveryPartition() async throws {
        try await withTestBroker { broker in
            let producer = try await broker.client()
            try await producer.createTopic("live", partitions: 3)
            for index in 0..<6 { _ = try await producer.publish(topic: "live", value: "old-\(index)", partition: index % 3) }
            let subscriber = try await broker.client()
            #expect(try await subscriber.subscribe(topic: "live", from: .earliest) == "OK subscribed live partitions=3 from=earliest")
            for index in 0..<6 { _ = try await producer.publish(topic: "live", value: "new-\(index)", partition: index % 3) }
            let pushed: [Message] = try await withDeadline(.seconds(10), "12 pushed records") {
                var iterator = subscriber.deliveries.makeAsyncIterator()
                var got: [Message] = []
                while got.count < 12, let message = await iterator.next() { got.append(message) }
                return got
            }
            let received = pushed.map(\.valueString)
            var perPartition: [Int32: [Int64]] = [:]
            for message in pushed { perPartition[message.partition.rawValue, default: []].append(message.offset.rawValue) }
            #expect(Set(received) == Set((0..<6).map { "old-\($0)" } + (0..<6).map { "new-\($0)" }))
            // In offset order within each partition.
            #expect(perPartition.values.allSatisfy { $0 == [0, 1, 2, 3] })
            // FETCH is refused on a subscribed connection, other commands work.
            await #expect(throws: SpoolClientError.self) { _ = try await subscriber.fetch(topic: "live", partition: 0, from: .earliest) }
            try await subscriber.ping()
            #expect(try await subscriber.unsubscribe() == "OK unsubscribed 1")
            _ = try await subscriber.fetch(topic: "live", partition: 0, from: .earliest)
            await subscriber.close()
            await producer.close()
        }
    }

    @Test func aRestartKeepsEveryRecordAndOffsetsContinue() async throws {
        try await withTemporaryFolder { directory in
            let acks = try await withTestBroker(on: directory) { first in
                let client = try await first.client()
                try await client.createTopic("kept", partitions: 2)
                let acks = try await client.publish(batch: (0..<50).map { OutgoingRecord(topic: "kept", value: "r\($0)", partition: $0 % 2) })
                await client.close()
                return acks
            }

            try await withTestBroker(on: directory) { second in
                let again = try await second.client()
                #expect(try await again.topics() == [TopicInfo(name: "kept", partitions: 2)])
                for partition in 0..<2 {
                    let batch = try await again.fetch(topic: "kept", partition: partition, from: .earliest)
                    let expected = acks.enumerated().filter { $0.element.partition == partition }.map { "r\($0.offset)" }
                    #expect(batch.messages.map(\.valueString) == expected)
                }
                #expect(try await again.publish(topic: "kept", value: "after", partition: 0).offset == 25)
                await again.close()
            }
        }
    }

    @Test func twoBrokersCannotShareADataFolder() async throws {
        try await withTemporaryFolder { directory in
            try await withTestBroker(on: directory) { first in
                await #expect { try await withTestBroker(on: directory) { _ in } } throws: {
                    "\($0)".contains("is in use by another broker")
                }
                // The first one is unharmed, and the folder is free again once it stops.
                try await first.client().ping()
            }
            try await withTestBroker(on: directory) { _ in }
        }
    }

    @Test func statsCountTraffic() async throws {
        try await withTestBroker { broker in
            let client = try await broker.client()
            try await client.createTopic("counted", partitions: 1)
            _ = try await client.publish(batch: (0..<10).map { _ in OutgoingRecord(topic: "counted", value: "12345") })
            _ = try await client.fetch(topic: "counted", partition: 0, from: .earliest)
            let stats = try await client.stats()
            #expect(stats["records_in_total"] == 10)
            #expect(stats["bytes_in_total"] == 50)
            #expect(stats["records_out_total"] == 10)
            #expect(stats["connections"] == 1)
            #expect(stats["topics"] == 1)
            await client.close()
        }
    }

    /// The client sends exactly one request per call: a line break inside an argument would
    /// smuggle in a second command (here a DROP), so the client refuses it before sending.
    @Test func aLineBreakInAnArgumentNeverBecomesASecondCommand() async throws {
        try await withTestBroker { broker in
            let client = try await broker.client()
            try await client.createTopic("kept")
            await #expect(throws: SpoolClientError.invalidArgument("a request line cannot contain a line break")) {
                _ = try await client.send(line: "PING\nDROP kept")
            }
            await #expect(throws: SpoolClientError.invalidArgument("illegal group name g\r\nDROP kept")) {
                _ = try await client.subscribe(topics: ["kept"], group: "g\r\nDROP kept")
            }
            try await client.ping()
            #expect(try await client.topics().map(\.name) == ["kept"])
            await client.close()
        }
    }
}
