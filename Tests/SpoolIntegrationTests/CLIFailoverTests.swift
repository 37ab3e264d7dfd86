import Foundation
import SpoolClient
import SpoolCore
import SpoolFaultProxy
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `spool --server h1:p1,h2:p2`: one-shot commands take the first broker that answers; tail,
/// consume and produce move to another broker when theirs dies. The failovers hand one data
/// folder from a killed spoold to a new one on another port, so the resumed offsets are the same
/// records and every duplicate or gap shows.
@Suite("spool with several broker addresses", .timeLimit(.minutes(2)))
struct CLIFailoverTests {
    static func list(_ ports: Int...) -> String { ports.map { "127.0.0.1:\($0)" }.joined(separator: ",") }

    @Test("one-shot commands use the first address that answers; every address down is exit 69 naming each")
    func oneShot() async throws {
        try await withTestBroker { broker in
            let (down1, down2) = (try await FailoverPorts.closed(), try await FailoverPorts.closed())
            let spool = try #require(ChildProcess.builtProduct("spool"))
            let ping = try await ChildProcess.run(spool, ["ping", "--server", Self.list(down1, broker.port)])
            #expect(ping.status == 0 && ping.out.hasPrefix("PONG from 127.0.0.1:\(broker.port) in "), "\(ping.err)")
            let fromEnvironment = try await ChildProcess.run(
                spool, ["create", "t"], environment: ["SPOOL_SERVER": "127.0.0.1:\(down1), 127.0.0.1:\(broker.port)"])
            #expect(fromEnvironment.status == 0 && fromEnvironment.out.hasPrefix("created t "), "\(fromEnvironment.err)")

            let none = try await ChildProcess.run(spool, ["topics", "--server", Self.list(down1, down2)])
            #expect(none.status == 69)
            #expect(
                none.err
                    == "spool: cannot connect to any broker: 127.0.0.1:\(down1) (connection refused), 127.0.0.1:\(down2) (connection refused)\n")
            let bad = try await ChildProcess.run(spool, ["topics", "--server", "127.0.0.1:\(broker.port),,x:1"])
            #expect(bad.status == 2 && bad.err.contains("comma-separated list"))
        }
    }

    @Test("tail, consume and consume --group keep printing after their broker is killed: no record twice, none missing")
    func readersResume() async throws {
        try await withSpooldFolder { _, start in
            let first = try start(nil)
            let secondPort = try await FailoverPorts.closed()
            let servers = Self.list(first.port, secondPort)
            let producer = try await SpoolClient.connect(host: "127.0.0.1", port: first.port)
            try await producer.createTopic("t", partitions: 2)
            // Uneven partitions: a resumed SUB starts at the lower one's offset, so partition 0's
            // first records come again and must be dropped.
            var expected = (0..<8).map { "a\($0)" } + (0..<2).map { "b\($0)" }
            _ = try await producer.publish(batch: (0..<8).map { OutgoingRecord(topic: "t", value: "a\($0)", partition: 0) })
            _ = try await producer.publish(batch: (0..<2).map { OutgoingRecord(topic: "t", value: "b\($0)", partition: 1) })
            await producer.close()

            var readers: [FailoverChild] = []
            defer { for reader in readers { reader.stop() } }
            for arguments in [
                ["tail", "t", "--from", "earliest"], ["consume", "t", "--poll-ms", "100"],
                ["consume", "t", "--group", "g", "--from", "earliest"],
            ] {
                readers.append(try FailoverChild(arguments + ["--server", servers]))
            }
            for reader in readers {
                try await eventually(timeout: .seconds(20), "\(reader.process.arguments!.prefix(3)) to print 10 records") {
                    reader.lines.count >= 10
                }
            }
            first.kill()
            let second = try start(secondPort)
            let again = try await SpoolClient.connect(host: "127.0.0.1", port: second.port)
            _ = try await again.publish(batch: (8..<10).map { OutgoingRecord(topic: "t", value: "a\($0)", partition: 0) })
            _ = try await again.publish(batch: (2..<6).map { OutgoingRecord(topic: "t", value: "b\($0)", partition: 1) })
            await again.close()
            expected += ["a8", "a9"] + (2..<6).map { "b\($0)" }

            for reader in readers {
                let name = reader.process.arguments!.prefix(3).joined(separator: " ")
                try await eventually(timeout: .seconds(40), "\(name) to print the records written after the switch") {
                    reader.lines.count >= expected.count
                }
                // Give a duplicate the time to show: the same records again by another route.
                let check = try await SpoolClient.connect(host: "127.0.0.1", port: second.port)
                try await check.ping()
                await check.close()
                let lines = reader.lines
                #expect(lines.count == expected.count && Set(lines) == Set(expected), "\(name): \(lines)\n\(reader.err)")
                // Each partition in offset order.
                #expect(lines.filter { $0.hasPrefix("a") } == expected.filter { $0.hasPrefix("a") }, "\(name)")
                #expect(lines.filter { $0.hasPrefix("b") } == expected.filter { $0.hasPrefix("b") }, "\(name)")
                #expect(reader.err.contains("spool: lost the connection to 127.0.0.1:\(first.port)"), "\(name): \(reader.err)")
                #expect(reader.err.contains("spool: connected to 127.0.0.1:\(secondPort)"), "\(name): \(reader.err)")
                #expect(reader.process.isRunning, "\(name) still follows the topic")
            }
        }
    }

    @Test("produce from standard input across a broker kill: the unanswered record is reported, not resent; nothing acknowledged twice")
    func produceAcrossKill() async throws {
        try await withSpooldFolder { _, start in
            let first = try start(nil)
            let secondPort = try await FailoverPorts.closed()
            let admin = try await SpoolClient.connect(host: "127.0.0.1", port: first.port)
            try await admin.createTopic("t")
            await admin.close()
            // The producer reaches the first broker through a proxy, so that a record can be held
            // on its way: sent by the producer, never read by the broker.
            let proxy = try await FaultProxy.start(targetPort: first.port)
            let proxyPort = proxy.port  // (not readable once the proxy is shut down)
            try await always(body: {
                let producer = try FailoverChild(
                    ["produce", "t", "-v", "--batch", "1", "--server", Self.list(proxyPort, secondPort)], withInput: true)
                defer { producer.stop() }
                try producer.write((1...20).map { "r\($0)\n" }.joined())
                try await eventually(timeout: .seconds(30), "20 acknowledgements") { producer.lines.count == 20 }

                // Record 21 leaves the producer and is held by the proxy; then the broker dies.
                proxy.set(.stall, .clientToServer)
                try producer.write("r21\n")
                try await eventually(timeout: .seconds(30), "r21 to be held on its way to the broker") { proxy.bytesHeld(.clientToServer) > 0 }
                first.kill()
                // The proxy goes too, so the producer can only reach the second broker: a
                // connection the proxy accepted with nothing behind it would make r22 unknown too.
                await proxy.shutdown()
                let second = try start(secondPort)
                // Its end of the proxy connection closed (not ESTABLISHED, not CLOSE_WAIT): the
                // next record goes to a new connection, which only the second broker accepts.
                try await eventually(timeout: .seconds(30), "the producer to close its connection to the proxy") {
                    !FailoverPorts.connected(toPort: proxyPort)
                }
                try producer.write((22...30).map { "r\($0)\n" }.joined())
                try producer.closeInput()
                let status = try await producer.waitForExit(timeout: .seconds(40))

                #expect(status == 69, "\(producer.err)")
                #expect(
                    producer.err.contains(
                        "spool: 1 record (input line 21) sent to 127.0.0.1:\(proxyPort) got no reply before the connection was lost: outcome unknown, not resent"),
                    "\(producer.err)")
                #expect(producer.err.contains("spool: 1 record of unknown outcome"), "\(producer.err)")
                #expect(producer.lines == (0..<29).map { "0 \($0)" })
                let reader = try await SpoolClient.connect(host: "127.0.0.1", port: second.port)
                let stored = try await reader.fetch(topic: "t", partition: 0, from: .earliest).messages.map(\.valueString)
                await reader.close()
                // The broker never received r21, so it is not there; every acknowledged record is, once.
                #expect(stored == (1...20).map { "r\($0)" } + (22...30).map { "r\($0)" })
            }, then: { await proxy.shutdown() })
        }
    }

    @Test("produce: records a stopping broker refused (ERR SHUTTING_DOWN, not stored) go to the next broker, each once")
    func produceResendsRefused() async throws {
        let stopping = try await StoppingBroker.start()
        do {
            try await withTestBroker { broker in
                let admin = try await broker.client()
                try await admin.createTopic("t")
                let lines = (1...25).map { "s\($0)" }
                let result = try await ChildProcess.run(
                    try #require(ChildProcess.builtProduct("spool")),
                    ["produce", "t", "--batch", "10", "--server", Self.list(stopping.port, broker.port)],
                    stdin: Array(lines.map { $0 + "\n" }.joined().utf8))
                #expect(result.status == 0, "\(result.err)")
                #expect(result.err.contains("spool: lost the connection to 127.0.0.1:\(stopping.port) (ERR SHUTTING_DOWN "), "\(result.err)")
                #expect(result.err.hasSuffix("produced 25 records\n"), "\(result.err)")
                #expect(!result.err.contains("unknown"), "\(result.err)")
                let stored = try await admin.fetch(topic: "t", partition: 0, from: .earliest).messages.map(\.valueString)
                #expect(stored == lines)
                await admin.close()
            }
        } catch {
            await stopping.close()
            throw error
        }
        await stopping.close()
    }

    @Test("a broker that loses every connection at once: tail backs off and gives up after --reconnect-rounds, no busy loop")
    func quickLossesGiveUp() async throws {
        let stopping = try await StoppingBroker.start()
        let tail = try FailoverChild(["tail", "t", "--reconnect-rounds", "3", "--server", Self.list(stopping.port)])
        defer { tail.stop() }
        let status: Int32
        do {
            status = try await tail.waitForExit(timeout: .seconds(20))
        } catch {
            await stopping.close()
            throw error
        }
        await stopping.close()
        #expect(status == 69, "\(tail.err)")
        #expect(tail.err.components(separatedBy: "spool: lost the connection to 127.0.0.1:\(stopping.port) (ERR SHUTTING_DOWN ").count == 5)
        #expect(
            tail.err.hasSuffix("spool: lost the connection 4 times in a row right after connecting, last to 127.0.0.1:\(stopping.port); giving up\n"),
            "\(tail.err)")
    }

    @Test("tail gives up after --reconnect-rounds when no broker answers: exit 69 naming each address")
    func tailGivesUp() async throws {
        try await withSpooldFolder { _, start in
            let broker = try start(nil)
            let down = try await FailoverPorts.closed()
            let admin = try await SpoolClient.connect(host: "127.0.0.1", port: broker.port)
            try await admin.createTopic("t")
            let tail = try FailoverChild(["tail", "t", "--from", "earliest", "--reconnect-rounds", "2", "--server", Self.list(broker.port, down)])
            defer { tail.stop() }
            // The first record printed shows the subscription is in place.
            _ = try await admin.publish(topic: "t", value: "one")
            try await eventually("tail to print a record") { tail.lines == ["one"] }
            await admin.close()
            broker.kill()
            #expect(try await tail.waitForExit() == 69)
            #expect(
                tail.err.hasSuffix(
                    "spool: lost the connection to 127.0.0.1:\(broker.port), then cannot connect to any broker after 2 rounds: "
                        + "127.0.0.1:\(down) (connection refused), 127.0.0.1:\(broker.port) (connection refused)\n"),
                "\(tail.err)")
        }
    }
}
