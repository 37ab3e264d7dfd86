import NIOCore
import SpoolCore
import SpoolProtocol
import Testing

@Suite("RequestParser: requests that parse")
struct RequestParserSuccessTests {
    static let rows: [ParseFixture] = [
        .success("PING\n", .ping),
        .success("ping\r\n", .ping),
        .success("  \tPiNg  \t\n", .ping),
        .success("\n\r\n  \t\r\nPING\n", .ping),
        .success("TOPICS\n", .topics),
        .success("STATS\n", .stats),
        .success("QUIT\r\n", .quit),
        .success("METADATA\n", .metadata(nil)),
        .success("metadata orders\r\n", .metadata(topic("orders"))),
        .success("VERIFY orders\n", .verify(topic("orders"), nil)),
        .success("verify orders 3\r\n", .verify(topic("orders"), PartitionID(3))),
        .success("CREATE orders\n", .create(topic: topic("orders"), partitions: 1, replication: nil)),
        .success("create orders PARTITIONS=8\n", .create(topic: topic("orders"), partitions: 8, replication: nil)),
        .success("CREATE a.b_c-9 partitions=1\n", .create(topic: topic("a.b_c-9"), partitions: 1, replication: nil)),
        .success("CREATE orders replication=3 partitions=6\n", .create(topic: topic("orders"), partitions: 6, replication: 3)),
        .success("DESCRIBE orders\n", .describe(topic("orders"))),
        .success("DROP orders\n", .drop(topic("orders"))),
        .success("PUB orders :hello\n", .publish(PublishRequest(topic: topic("orders"), value: buffer("hello")))),
        .success("PUB orders :\n", .publish(PublishRequest(topic: topic("orders"), value: buffer("")))),
        .success("PUB orders : two  spaces \r\n", .publish(PublishRequest(topic: topic("orders"), value: buffer(" two  spaces ")))),
        .success("PUB orders :a :b key=x\n", .publish(PublishRequest(topic: topic("orders"), value: buffer("a :b key=x")))),
        .success("PUB orders :a\rb\n", .publish(PublishRequest(topic: topic("orders"), value: buffer("a\rb")))),
        .success(
            "PUB orders key=user-42 partition=2 acks=all :{\"item\":\"book\"}\n",
            .publish(PublishRequest(topic: topic("orders"), key: buffer("user-42"), partition: PartitionID(2), acks: .all, value: buffer("{\"item\":\"book\"}")))),
        .success("PUB orders acks=NONE :x\n", .publish(PublishRequest(topic: topic("orders"), acks: .none, value: buffer("x")))),
        .success("PUB orders acks=0 :x\n", .publish(PublishRequest(topic: topic("orders"), acks: .none, value: buffer("x")))),
        .success("PUB orders acks=1 :x\n", .publish(PublishRequest(topic: topic("orders"), acks: .leader, value: buffer("x")))),
        .success("PUB orders acks=-1 :x\n", .publish(PublishRequest(topic: topic("orders"), acks: .all, value: buffer("x")))),
        // Without acks= a record is acknowledged once committed (acks=all, Kafka 3's default).
        .success("PUB orders :default\n", .publish(PublishRequest(topic: topic("orders"), acks: .all, value: buffer("default")))),
        .success("PUB orders KEY=base64:AAEC :x\n", .publish(PublishRequest(topic: topic("orders"), key: buffer([0, 1, 2]), value: buffer("x")))),
        .success("PUB orders key=base64: :x\n", .publish(PublishRequest(topic: topic("orders"), key: buffer(""), value: buffer("x")))),
        .success("PUB orders key=- :x\n", .publish(PublishRequest(topic: topic("orders"), value: buffer("x")))),
        .success("PUB orders key=a=b :x\n", .publish(PublishRequest(topic: topic("orders"), key: buffer("a=b"), value: buffer("x")))),
        .success("PUB orders 5\nhello\n", .publish(PublishRequest(topic: topic("orders"), value: buffer("hello")))),
        .success("PUB orders 5\r\nhello\r\n", .publish(PublishRequest(topic: topic("orders"), value: buffer("hello")))),
        .success("PUB orders 0\n\n", .publish(PublishRequest(topic: topic("orders"), value: buffer("")))),
        .success("PUB orders 007\nhello\r\n\n", .publish(PublishRequest(topic: topic("orders"), value: buffer("hello\r\n")))),
        .success("PUB orders key=k partition=0 acks=leader 16\n0123456789abcdef\n",
            .publish(PublishRequest(topic: topic("orders"), key: buffer("k"), partition: PartitionID(0), acks: .leader, value: buffer("0123456789abcdef")))),
        .success("PUB orders 5\nPING\n\nPING\n",
            .publish(PublishRequest(topic: topic("orders"), value: buffer("PING\n"))), .ping),
        .success("FETCH orders 1 0\n", .fetch(FetchRequest(topic: topic("orders"), partition: PartitionID(1), start: .offset(Offset(0))))),
        .success("FETCH orders 0 EARLIEST max=5 wait=1000\n",
            .fetch(FetchRequest(topic: topic("orders"), partition: PartitionID(0), start: .earliest, maxRecords: 5, waitMs: 1000))),
        .success("fetch orders 2147483647 latest WAIT=0 max=99999999\n",
            .fetch(FetchRequest(topic: topic("orders"), partition: PartitionID(Int32.max), start: .latest, maxRecords: 99_999_999))),
        .success("FETCH orders 3 9223372036854775807\n",
            .fetch(FetchRequest(topic: topic("orders"), partition: PartitionID(3), start: .offset(Offset(Int64.max))))),
        .success("OFFSETS orders 1\n", .offsets(topic: topic("orders"), partition: PartitionID(1), time: nil)),
        .success("OFFSETS orders 1 time=1764072000123\n",
            .offsets(topic: topic("orders"), partition: PartitionID(1), time: TimestampMs(1_764_072_000_123))),
        .success("SUB orders\n", .subscribe(topic: topic("orders"), from: .latest)),
        .success("SUB orders from=earliest\n", .subscribe(topic: topic("orders"), from: .earliest)),
        .success("SUB orders from=Latest\n", .subscribe(topic: topic("orders"), from: .latest)),
        .success("SUB orders from=42\n", .subscribe(topic: topic("orders"), from: .offset(Offset(42)))),
        .success(
            "SUB orders,audit,orders group=billing\n",
            .subscribeGroup(GroupSubscribeRequest(topics: [topic("audit"), topic("orders")], group: GroupName("billing")!))),
        .success(
            "sub orders group=g from=earliest commit=MANUAL session=5000\n",
            .subscribeGroup(GroupSubscribeRequest(topics: [topic("orders")], group: GroupName("g")!, from: .earliest, autoCommit: false, sessionTimeoutMs: 5000))),
        .success("COMMIT orders 3 42\n", .commit(topic: topic("orders"), partition: PartitionID(3), offset: Offset(42))),
        .success("GROUPS\n", .groups),
        .success("GROUP billing\n", .group(GroupName("billing")!)),
        .success("UNSUB\n", .unsubscribe(nil)),
        .success("UNSUB orders\n", .unsubscribe(topic("orders"))),
        .success("HELP\n", .help(command: nil)),
        .success("help pub\n", .help(command: "PUB")),
        .success("HELP nosuch\n", .help(command: "NOSUCH")),
    ]

    @Test("parses whole, byte by byte", arguments: rows)
    func parses(row: ParseFixture) {
        row.check()
    }

    @Test("every strict prefix needs more data", arguments: rows.filter { $0.expected.count == 1 })
    func prefixesNeedMoreData(row: ParseFixture) {
        row.checkPrefixesNeedMoreData()
    }

    @Test("pipelined requests come out in order, from any chunking")
    func pipelined() {
        let input = Array(Self.rows.flatMap(\.input))
        let expected = Self.rows.flatMap(\.expected)
        #expect(ParseFixture.feedWhole(input).outcomes == expected)
        for chunk in [1, 2, 3, 7, 64, 1000] {
            #expect(ParseFixture.feedChunked(input, chunk: chunk) == expected, "chunk \(chunk)")
        }
    }

    @Test("inline and byte-counted values are slices of the input, not copies")
    func valueIsSlice() {
        var parser = RequestParser(limits: ParseFixture.limits)
        var input = ByteBuffer(string: "PUB orders key=k 5\nhello\nPUB orders :world\n")
        let storage = input.storageCapacity
        for expected in ["hello", "world"] {
            guard case .request(.publish(let request))? = parser.next(from: &input) else {
                Issue.record("expected PUB")
                return
            }
            #expect(request.value == buffer(expected))
            // A slice shares the input's storage, so its capacity is the input's.
            #expect(request.value.storageCapacity == storage)
        }
    }
}
