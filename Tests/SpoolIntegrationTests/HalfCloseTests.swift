import Foundation
import Testing

@Suite("Half-close: the client stops sending, the broker still answers", .timeLimit(.minutes(1)))
struct HalfCloseTests {
    /// `printf 'PING\nCREATE hc\nPUB hc :x\n' | nc -N`: every request gets its reply, in order
    /// (the PUB after its commit), then the broker closes. It used to print only PONG.
    @Test func everyRequestSentBeforeTheHalfCloseIsAnswered() async throws {
        try await withTestBroker { broker in
            let socket = try broker.socket()
            try socket.send("PING\nCREATE hc\nPUB hc :x\nPUB hc acks=none :y\nPUB hc :z\n")
            socket.shutdownSending()
            #expect(try socket.readLine() == "PONG")
            #expect(try socket.readLine() == "OK hc partitions=1 replication=1")
            #expect(try socket.readLine() == "OK hc 0 0")
            #expect(try socket.readLine() == "OK hc 0 -")
            #expect(try socket.readLine() == "OK hc 0 2")
            #expect(socket.readsToEnd())
        }
    }

    /// Backpressure holding the last request back (here the connection's queued-bytes bound of
    /// one byte) does not keep the connection open once everything is answered.
    @Test func theConnectionClosesAfterBackpressureHeldItsLastRequest() async throws {
        try await withTestBroker(limits: { $0.queuedBytesPerConnection = 1 }) { broker in
            let socket = try broker.socket(timeoutSeconds: 3)
            try socket.send("CREATE held\nPUB held acks=none :a\nPUB held acks=none :b\n")
            socket.shutdownSending()
            #expect(try socket.readLine().hasPrefix("OK held partitions=1"))
            #expect(try socket.readLine() == "OK held 0 -")
            #expect(try socket.readLine() == "OK held 0 -")
            #expect(socket.readsToEnd())
        }
    }

    /// A long-poll FETCH answers at once with what it has when the client half-closes: nothing can
    /// arrive on that connection to be worth waiting for.
    @Test func aWaitingFetchAnswersAtOnceAfterTheHalfClose() async throws {
        try await withTestBroker { broker in
            let socket = try broker.socket(timeoutSeconds: 5)
            try socket.send("CREATE polled\nPUB polled :only\nFETCH polled 0 1 wait=60000\n")
            #expect(try socket.readLine().hasPrefix("OK polled partitions=1"))
            #expect(try socket.readLine() == "OK polled 0 0")
            // The FETCH is waiting at the high watermark; the half-close ends the wait.
            socket.shutdownSending()
            #expect(try socket.readLine() == "END polled 0 next=1 high=1")
            #expect(socket.readsToEnd())
        }
    }

    /// A FETCH still buffered behind others when the half-close arrives does not wait either.
    @Test func aFetchReceivedWithTheHalfCloseDoesNotWait() async throws {
        try await withTestBroker { broker in
            let socket = try broker.socket(timeoutSeconds: 5)
            try socket.send("CREATE later\nFETCH later 0 0 wait=60000\nPING\n")
            socket.shutdownSending()
            #expect(try socket.readLine().hasPrefix("OK later partitions=1"))
            #expect(try socket.readLine() == "END later 0 next=0 high=0")
            #expect(try socket.readLine() == "PONG")
            #expect(socket.readsToEnd())
        }
    }
}
