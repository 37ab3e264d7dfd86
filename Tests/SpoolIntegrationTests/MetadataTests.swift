import Foundation
import Testing

/// `METADATA [topic]` on a single broker: it is the whole cluster, leads every partition and holds
/// its only replica.
@Suite("METADATA on a single broker", .timeLimit(.minutes(1)))
struct MetadataTests {
    @Test("one BROKER line, then one PARTITION line per partition of every topic (sorted), then END METADATA")
    func singleBroker() async throws {
        try await withTestBroker { broker in try Self.checkSingleBroker(broker) }
    }

    static func checkSingleBroker(_ broker: TestBroker) throws {
        let socket = try broker.socket()
        #expect(try metadata(port: broker.port) == ["BROKER 1 127.0.0.1:\(broker.port) up", "END METADATA"])

        try socket.send("CREATE orders partitions=2\nCREATE audit\nPUB orders partition=1 :a\nPUB orders partition=1 :b\nPUB audit :c\n")
        for expected in ["OK orders partitions=2 replication=1", "OK audit partitions=1 replication=1", "OK orders 1 0", "OK orders 1 1", "OK audit 0 0"] {
            #expect(try socket.readLine() == expected)
        }
        #expect(try metadata(port: broker.port) == [
            "BROKER 1 127.0.0.1:\(broker.port) up",
            "PARTITION audit 0 leader=1 replicas=1 isr=1 high=1",
            "PARTITION orders 0 leader=1 replicas=1 isr=1 high=0",
            "PARTITION orders 1 leader=1 replicas=1 isr=1 high=2",
            "END METADATA",
        ])
        #expect(try metadata(port: broker.port, topic: "orders") == [
            "BROKER 1 127.0.0.1:\(broker.port) up",
            "PARTITION orders 0 leader=1 replicas=1 isr=1 high=0",
            "PARTITION orders 1 leader=1 replicas=1 isr=1 high=2",
            "END METADATA",
        ])
        #expect(try metadata(port: broker.port, topic: "nosuch") == ["ERR UNKNOWN_TOPIC no topic named nosuch"])

        // Pipelined with other commands, in order; HELP knows it.
        try socket.send("METADATA audit\nPING\nHELP METADATA\n")
        #expect(try socket.readLine() == "BROKER 1 127.0.0.1:\(broker.port) up")
        #expect(try socket.readLine() == "PARTITION audit 0 leader=1 replicas=1 isr=1 high=1")
        #expect(try socket.readLine() == "END METADATA")
        #expect(try socket.readLine() == "PONG")
        #expect(try socket.readLine() == "HELP METADATA [<topic>]")
    }

    @Test("spoold without cluster options is node 1 alone: METADATA says so and CREATE works as ever")
    func spooldWithoutClusterOptions() async throws {
        try await withSpoold { broker in
            let socket = try RawSocket(port: broker.port)
            try socket.send("CREATE t\n")
            #expect(try socket.readLine() == "OK t partitions=1 replication=1")
            #expect(try metadata(port: broker.port) == [
                "BROKER 1 127.0.0.1:\(broker.port) up", "PARTITION t 0 leader=1 replicas=1 isr=1 high=0", "END METADATA",
            ])
            #expect(broker.terminate() == 0)
        }
    }
}
