import Foundation
import SpoolClient
import SpoolCore
import Testing

@Suite("SpoolClient: several broker addresses and reconnect", .timeLimit(.minutes(1)))
struct ClientFailoverTests {
    // MARK: Pure parts

    @Test("an address list: h1:p1,h2:p2, spaces after commas, repeats kept once; anything else refused")
    func addressLists() {
        #expect(ServerAddress.list("a:1, b:2,[::1]:3,c") == [
            ServerAddress(host: "a", port: 1), ServerAddress(host: "b", port: 2), ServerAddress(host: "::1", port: 3),
            ServerAddress(host: "c", port: 7070),
        ])
        #expect(ServerAddress.list("a:1,a:1,b:2") == [ServerAddress(host: "a", port: 1), ServerAddress(host: "b", port: 2)])
        for bad in ["", ",", "a:1,", "a:1,,b:2", "a:0", "a:1,b:x", ":7"] {
            #expect(ServerAddress.list(bad) == nil, "\(bad)")
        }
    }

    @Test("reconnect order: the addresses after the lost one first, the lost one last; back-off doubles up to the cap")
    func reconnectOrderAndBackoff() {
        let list = (1...3).map { ServerAddress(host: "h\($0)", port: 7070) }
        #expect(ReconnectPolicy.order(after: list[0], in: list) == [list[1], list[2], list[0]])
        #expect(ReconnectPolicy.order(after: list[2], in: list) == list)
        #expect(ReconnectPolicy.order(after: ServerAddress(host: "other", port: 1), in: list) == list)
        let policy = ReconnectPolicy(rounds: 5, initialDelay: .milliseconds(100), maxDelay: .milliseconds(700), connectTimeout: .seconds(1))
        #expect((0..<6).map { policy.delay(afterRound: $0) } == [100, 200, 400, 700, 700, 700].map { .milliseconds($0) })
        #expect(ReconnectPolicy.default.delay(afterRound: 1000) == .seconds(2))
    }

    @Test("a shuffled order is a permutation fixed by its seed")
    func shuffledOrder() {
        let list = (1...8).map { ServerAddress(host: "h\($0)", port: 7070) }
        let once = AddressOrder.shuffled(seed: 42).arrange(list)
        #expect(once == AddressOrder.shuffled(seed: 42).arrange(list))
        #expect(Set(once) == Set(list) && once.count == list.count)
        #expect((0..<20).contains { AddressOrder.shuffled(seed: $0).arrange(list) != list }, "some seed changes the order")
        #expect(AddressOrder.listed.arrange(list) == list)
    }

    // MARK: Over real brokers

    @Test("the first address is down: the second is used")
    func firstDownSecondUsed() async throws {
        try await withTestBroker { broker in
            let down = try await FailoverPorts.closed()
            let client = try await SpoolClient.connect(to: ["127.0.0.1:\(down)", "127.0.0.1:\(broker.port)"])
            #expect(client.address == ServerAddress(host: "127.0.0.1", port: broker.port))
            try await client.ping()
            await client.close()
        }
    }

    @Test("every address down: the error names each one, in the order tried")
    func allDown() async throws {
        let ports = [try await FailoverPorts.closed(), try await FailoverPorts.closed()]
        let addresses = ports.map { ServerAddress(host: "127.0.0.1", port: $0) }
        do {
            _ = try await SpoolClient.connect(to: addresses)
            Issue.record("connected to nothing")
        } catch let error as BrokersUnreachable {
            #expect(error.attempts.map(\.address) == addresses)
            #expect(error.attempts.allSatisfy { $0.reason == "connection refused" })
            #expect(
                error.description
                    == "cannot connect to any broker: 127.0.0.1:\(ports[0]) (connection refused), 127.0.0.1:\(ports[1]) (connection refused)")
        }
        await #expect(throws: SpoolClientError.invalidArgument("no broker address given")) {
            _ = try await SpoolClient.connect(to: [ServerAddress]())
        }
    }

    @Test("a broker killed under a call: the call fails with connectionClosed, reconnect moves to the next broker, once")
    func reconnectAfterKill() async throws {
        try await withTestBroker { second in
            try await withSpooldFolder { _, start in
                let first = try start(nil)
                let connection = try await SpoolConnection.connect(
                    to: [ServerAddress(host: "127.0.0.1", port: first.port), ServerAddress(host: "127.0.0.1", port: second.port)])
                let client = await connection.client
                #expect(client.address.port == first.port)
                try await client.createTopic("t")
                // A long-poll FETCH is waiting when the broker dies: it fails, it is not retried
                // (its 2-minute wait would outlast the test's time limit).
                let waiting = Task { try await client.fetch(topic: "t", partition: 0, from: .latest, waitMs: 120_000) }
                first.kill()
                await #expect(throws: SpoolClientError.connectionClosed) { _ = try await waiting.value }
                #expect(!client.isConnected)
                await #expect(throws: SpoolClientError.connectionClosed) { try await client.ping() }

                let moved = try await connection.reconnect(replacing: client)
                #expect(moved.address.port == second.port)
                try await moved.ping()
                // A second task that saw the same loss gets the new client, not another reconnect.
                #expect(try await connection.reconnect(replacing: client) === moved)
                #expect(await connection.reconnects == 1)
                await connection.close()
            }
        }
    }

    @Test("reconnect gives up after its rounds, naming every address")
    func reconnectGivesUp() async throws {
        try await withSpooldFolder { _, start in
            let broker = try start(nil)
            let down = try await FailoverPorts.closed()
            let policy = ReconnectPolicy(rounds: 3, initialDelay: .milliseconds(10), maxDelay: .milliseconds(20), connectTimeout: .seconds(1))
            let connection = try await SpoolConnection.connect(to: ["127.0.0.1:\(broker.port)", "127.0.0.1:\(down)"], policy: policy)
            broker.kill()
            do {
                try await connection.reconnect()
                Issue.record("reconnected to a dead broker")
            } catch let error as BrokersUnreachable {
                #expect(error.rounds == 3)
                // The lost broker last.
                #expect(error.attempts.map(\.address.port) == [down, broker.port])
                #expect(error.description.hasPrefix("cannot connect to any broker after 3 rounds: 127.0.0.1:\(down) (connection refused), "))
            }
        }
    }
}
