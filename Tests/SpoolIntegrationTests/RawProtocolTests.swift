import Foundation
import SpoolClient
import SpoolCore
import Testing

/// The broker as a program without our client (or a person in telnet) sees it: raw bytes over
/// a plain socket on 127.0.0.1.
@Suite("Line protocol over raw sockets", .timeLimit(.minutes(1)))
struct RawProtocolTests {
    @Test func aTelnetSessionWithCRLFLineEnds() async throws {
        try await withTestBroker { broker in
            let socket = try broker.socket()
            try socket.send("ping\r\n")
            #expect(try socket.readLine() == "PONG")
            try socket.send("CREATE orders partitions=3\r\n")
            #expect(try socket.readLine() == "OK orders partitions=3 replication=1")
            try socket.send("PUB orders partition=1 :{\"item\": \"book\"}\r\n")
            #expect(try socket.readLine() == "OK orders 1 0")
            try socket.send("FETCH orders 1 0\r\n")
            let header = try socket.readLine().split(separator: " ")
            #expect(header.count == 7)
            #expect(header[0] == "MSG" && header[1] == "orders" && header[2] == "1" && header[3] == "0" && header[5] == "-" && header[6] == "16")
            #expect(String(decoding: try socket.readBytes(16), as: UTF8.self) == "{\"item\": \"book\"}")
            #expect(try socket.readLine() == "")
            #expect(try socket.readLine() == "END orders 1 next=1 high=1")
            try socket.send("\r\n   \r\nQUIT\r\n")  // blank lines are ignored
            #expect(try socket.readLine() == "OK bye")
            #expect(socket.readsToEnd())
        }
    }

    @Test func badInputGetsAClearErrorAndTheConnectionGoesOn() async throws {
        try await withTestBroker { broker in
            let socket = try broker.socket()
            try socket.send("CREATE t\n")
            #expect(try socket.readLine() == "OK t partitions=1 replication=1")
            let cases: [(String, String)] = [
                ("FLY me to the moon\n", "ERR UNKNOWN_COMMAND"),
                ("CREATE t partitions=zero\n", "ERR BAD_ARGUMENT"),
                ("CREATE bad/name\n", "ERR BAD_ARGUMENT"),
                ("PUB nosuch :x\n", "ERR UNKNOWN_TOPIC"),
                ("PUB t hello\n", "ERR BAD_REQUEST"),
                ("FETCH t 5 0\n", "ERR UNKNOWN_PARTITION"),
                ("FETCH t 0 99\n", "ERR OFFSET_OUT_OF_RANGE"),
                ("FETCH t 0 0 wait=-1\n", "ERR BAD_ARGUMENT"),
                ("HELP NOSUCH\n", "ERR BAD_ARGUMENT"),
                ("UNSUB t\n", "ERR BAD_ARGUMENT"),
                ("METADATA nosuch\n", "ERR UNKNOWN_TOPIC"),
            ]
            for (request, expected) in cases {
                try socket.send(request)
                let reply = try socket.readLine()
                #expect(reply.hasPrefix(expected + " "), "\(request) → \(reply)")
            }
            try socket.send("PING\n")
            #expect(try socket.readLine() == "PONG")
        }
    }

    @Test func anOversizedPayloadIsSkippedAndTheStreamStaysInSync() async throws {
        var limits = SpoolLimits()
        limits.payloadBytes = 1000
        try await withTestBroker(limits: limits) { broker in
            let socket = try broker.socket()
            try socket.send("CREATE t\n")
            _ = try socket.readLine()
            // The skipped payload holds something that looks like a command: it must not run.
            var request = Array("PUB t 5000\n".utf8)
            request += Array(repeating: UInt8(ascii: "x"), count: 2000) + Array("\nDROP t\n".utf8)
            request += Array(repeating: UInt8(ascii: "y"), count: 5000 - 2000 - 8) + [UInt8(ascii: "\n")]
            try socket.send(request)
            #expect(try socket.readLine().hasPrefix("ERR PAYLOAD_TOO_LARGE "))
            try socket.send("PUB t 3\nabc\n")
            #expect(try socket.readLine() == "OK t 0 0")
            try socket.send("TOPICS\n")
            #expect(try socket.readLine() == "TOPIC t partitions=1")
        }
    }

    @Test func unrecoverableInputIsAnsweredThenTheConnectionCloses() async throws {
        var limits = SpoolLimits()
        limits.lineBytes = 100
        try await withTestBroker(limits: limits) { broker in
            let bystander = try await broker.client()
            try await bystander.createTopic("t")
            _ = try await bystander.publish(topic: "t", value: "before")

            let requests: [(String, String)] = [
                (String(repeating: "A", count: 300) + "\n", "ERR LINE_TOO_LONG"),
                ("PUB t 12x\nDROP t\n", "ERR BAD_REQUEST"),
                ("PUB t 3\nabcDROP t\n", "ERR BAD_PAYLOAD"),
            ]
            for (request, expected) in requests {
                let socket = try broker.socket()
                try socket.send(request)
                #expect(try socket.readLine().hasPrefix(expected + " "))
                #expect(socket.readsToEnd(), "connection closed after \(expected)")
            }
            // Nothing that followed the bad input ran, and other clients carry on.
            #expect(try await bystander.topics() == [TopicInfo(name: "t", partitions: 1)])
            _ = try await bystander.publish(topic: "t", value: "after")
            #expect(try await bystander.fetch(topic: "t", partition: 0, from: .earliest).messages.map(\.valueString) == ["before", "after"])
            await bystander.close()
        }
    }

    @Test func aClientThatDisconnectsMidPayloadCostsNothing() async throws {
        try await withTestBroker { broker in
            let client = try await broker.client()
            try await client.createTopic("t")
            do {
                let socket = try broker.socket()
                try socket.send("PUB t 100\n" + String(repeating: "z", count: 50))
            }  // closed here, 50 bytes short
            _ = try await client.publish(topic: "t", value: "whole")
            try await client.ping()
            let batch = try await client.fetch(topic: "t", partition: 0, from: .earliest)
            #expect(batch.messages.map(\.valueString) == ["whole"])
            try await eventually("the dead connection to be counted out") { try await client.stats()["connections"] == 1 }
            await client.close()
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrderEvenPastThePendingLimit() async throws {
        var limits = SpoolLimits()
        limits.pendingRequestsPerConnection = 4
        try await withTestBroker(limits: limits) { broker in
            let socket = try broker.socket()
            // One write: a script that depends on its own order (CREATE before PUB, PUB before FETCH).
            var script = "CREATE p partitions=2\n"
            for index in 0..<300 {
                script += index % 50 == 0 ? "PING\n" : "PUB p partition=\(index % 2) :v\(index)\n"
            }
            script += "FETCH p 0 0 max=1\n"
            try socket.send(script)
            #expect(try socket.readLine() == "OK p partitions=2 replication=1")
            var next = [0, 0]
            for index in 0..<300 {
                if index % 50 == 0 {
                    #expect(try socket.readLine() == "PONG")
                } else {
                    let partition = index % 2
                    #expect(try socket.readLine() == "OK p \(partition) \(next[partition])")
                    next[partition] += 1
                }
            }
            #expect(try socket.readLine().hasPrefix("MSG p 0 0 "))
            #expect(try socket.readLine() == "v2")  // index 0 is a PING, index 1 went to partition 1
            #expect(try socket.readLine().hasPrefix("END p 0 next=1 high=\(next[0])"))
        }
    }

    @Test func theConnectionLimitIsEnforced() async throws {
        var limits = SpoolLimits()
        limits.connections = 2
        try await withTestBroker(limits: limits) { broker in
            let first = try broker.socket()
            let second = try broker.socket()
            try first.send("PING\n")
            #expect(try first.readLine() == "PONG")
            try second.send("PING\n")
            #expect(try second.readLine() == "PONG")
            let third = try broker.socket()
            #expect(try third.readLine().hasPrefix("ERR LIMIT_REACHED "))
            #expect(third.readsToEnd())
            // The first two are unaffected, and a slot frees up when one leaves.
            try first.send("QUIT\n")
            #expect(try first.readLine() == "OK bye")
            try await eventually("a free connection slot") {
                let socket = try broker.socket()
                try socket.send("PING\n")
                return (try? socket.readLine()) == "PONG"
            }
        }
    }

    /// Many connections' records land in the same group commits; each connection must still get
    /// the offsets of its own records, in its own order (the engine groups a commit's results by
    /// connection, with a lookup table once a commit holds more than a few connections).
    @Test func manyConnectionsPublishingIntoOnePartitionEachGetTheirOwnOffsets() async throws {
        try await withTestBroker { broker in
            let connections = 16
            let perConnection = 200
            let sockets = try (0..<connections).map { _ in try broker.socket() }
            try sockets[0].send("CREATE shared\n")
            #expect(try sockets[0].readLine() == "OK shared partitions=1 replication=1")
            // Every connection's whole script goes out before any reply is read, so the broker has
            // all of them queued at once and its commits mix the connections.
            for (connection, socket) in sockets.enumerated() {
                var script = ""
                for index in 0..<perConnection { script += "PUB shared :c\(connection)-\(index)\n" }
                try socket.send(script)
            }
            var owner: [Int64: String] = [:]
            for (connection, socket) in sockets.enumerated() {
                var previous: Int64 = -1
                for index in 0..<perConnection {
                    let reply = try socket.readLine()
                    let fields = reply.split(separator: " ")
                    let offset = try #require(fields.count == 4 && fields[0] == "OK" ? Int64(fields[3]) : nil, "\(reply)")
                    #expect(offset > previous, "connection \(connection): \(offset) after \(previous)")
                    previous = offset
                    #expect(owner.updateValue("c\(connection)-\(index)", forKey: offset) == nil, "offset \(offset) given twice")
                }
            }
            #expect(owner.count == connections * perConnection)
            // Each acknowledged offset holds exactly the record its connection sent.
            let client = try await broker.client()
            var next: Int64 = 0
            while next < Int64(connections * perConnection) {
                let batch = try await client.fetch(topic: "shared", partition: 0, from: .offset(Offset(next)), max: 1000)
                for message in batch.messages {
                    #expect(String(buffer: message.value) == owner[message.offset.rawValue], "offset \(message.offset)")
                }
                next = batch.next
            }
            await client.close()
        }
    }

    /// acks=leader completes when a batch is durable and acks=all when it is committed: two
    /// completion points, which on one broker fire for the same batch one after the other. A
    /// pipelined mix on one connection still answers in request order, at gap-free offsets.
    @Test func pipelinedAcksLeaderAndAllAnswerInOrder() async throws {
        try await withTestBroker { broker in
            let socket = try broker.socket()
            #expect(try socket.ask("CREATE mixed") == "OK mixed partitions=1 replication=1")
            let count = 200
            var requests = ""
            for index in 0..<count {
                let acks = ["leader", "all", "none"][index % 3]
                requests += "PUB mixed acks=\(acks) :v\(index)\n"
            }
            try socket.send(requests)
            for index in 0..<count {
                let expected = index % 3 == 2 ? "OK mixed 0 -" : "OK mixed 0 \(index)"
                #expect(try socket.readLine() == expected)
            }
            #expect(try socket.ask("OFFSETS mixed 0") == "OK mixed 0 earliest=0 latest=\(count)")
        }
    }
}
