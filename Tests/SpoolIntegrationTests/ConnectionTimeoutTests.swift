import Foundation
import SpoolCore
import Testing

@testable import SpoolServer

@Suite("Idle and partial-request timeouts", .timeLimit(.minutes(1)))
struct ConnectionTimeoutTests {
    /// A request that never finishes (a slowloris client: a byte now and then) is answered
    /// `ERR TIMEOUT` and closed, and stops holding a place under the connection limit.
    @Test func aPartlyReceivedLineTimesOutAndFreesItsConnection() async throws {
        try await withTestBroker(limits: { $0.partialRequestTimeoutMs = 300; $0.connections = 2 }) { broker in
            let slow = try broker.socket(timeoutSeconds: 5)
            let slower = try broker.socket(timeoutSeconds: 5)
            try slow.send("PI")
            try slower.send("P")
            try slower.send("I")
            #expect(try slow.readLine() == "ERR TIMEOUT request not complete after 300 ms; closing")
            #expect(slow.readsToEnd())
            #expect(try slower.readLine().hasPrefix("ERR TIMEOUT "))
            #expect(slower.readsToEnd())
            // Their places are free again for a client that talks.
            try await eventually("a connection past the slow clients") {
                let client = try broker.socket(timeoutSeconds: 5)
                try client.send("PING\n")
                return try client.readLine() == "PONG"
            }
        }
    }

    @Test func aPartlyReceivedPayloadTimesOut() async throws {
        try await withTestBroker(limits: { $0.partialRequestTimeoutMs = 300 }) { broker in
            let socket = try broker.socket(timeoutSeconds: 5)
            try socket.send("CREATE slowpay\n")
            #expect(try socket.readLine().hasPrefix("OK slowpay"))
            try socket.send("PUB slowpay 10\nabc")
            #expect(try socket.readLine().hasPrefix("ERR TIMEOUT "))
            #expect(socket.readsToEnd())
            // Nothing of the unfinished record was written.
            let check = try broker.socket()
            try check.send("FETCH slowpay 0 0\n")
            #expect(try check.readLine() == "END slowpay 0 next=0 high=0")
        }
    }

    /// Without an idle timeout (the default) a silent connection stays; so does one whose requests
    /// all finished quickly, however long the partial-request timeout is exceeded after them.
    @Test func completeRequestsAndSilenceAreNotPartial() async throws {
        try await withTestBroker(limits: { $0.partialRequestTimeoutMs = 200 }) { broker in
            let socket = try broker.socket(timeoutSeconds: 5)
            try socket.send("PING\n")
            #expect(try socket.readLine() == "PONG")
            try await Task.sleep(for: .milliseconds(700))  // past the timeout: must change nothing
            try socket.send("PING\n")
            #expect(try socket.readLine() == "PONG")
        }
    }

    @Test func anIdleConnectionIsClosedWithAReason() async throws {
        try await withTestBroker(limits: { $0.idleTimeoutMs = 300 }) { broker in
            let socket = try broker.socket(timeoutSeconds: 5)
            try socket.send("PING\n")
            #expect(try socket.readLine() == "PONG")
            #expect(try socket.readLine() == "ERR TIMEOUT idle for 300 ms; closing")
            #expect(socket.readsToEnd())
        }
    }

    /// Waiting for the broker is not idle: a subscriber with nothing to receive and a long-poll
    /// FETCH both outlive several idle timeouts.
    @Test func subscribersAndLongPollsAreNotIdle() async throws {
        try await withTestBroker(limits: { $0.idleTimeoutMs = 200 }) { broker in
            let subscriber = try broker.socket(timeoutSeconds: 5)
            try subscriber.send("CREATE quiet\nSUB quiet from=latest\n")
            #expect(try subscriber.readLine().hasPrefix("OK quiet"))
            #expect(try subscriber.readLine().hasPrefix("OK subscribed quiet"))
            let poller = try broker.socket(timeoutSeconds: 5)
            try poller.send("FETCH quiet 0 0 wait=1000\n")
            #expect(try poller.readLine() == "END quiet 0 next=0 high=0")
            let producer = try broker.socket()
            try producer.send("PUB quiet :late\n")
            #expect(try producer.readLine() == "OK quiet 0 0")
            #expect(try subscriber.readLine().hasPrefix("MSG quiet 0 0 "))
            #expect(try subscriber.readLine() == "late")
        }
    }

    /// One address holds at most `connectionsPerAddress` places; a closed one frees its place.
    @Test func oneAddressCannotTakeEveryPlace() async throws {
        try await withTestBroker(limits: { $0.connectionsPerAddress = 2 }) { broker in
            let first = try broker.socket(timeoutSeconds: 5)
            let second = try broker.socket(timeoutSeconds: 5)
            for socket in [first, second] {
                try socket.send("PING\n")
                #expect(try socket.readLine() == "PONG")
            }
            let third = try broker.socket(timeoutSeconds: 5)
            #expect(try third.readLine() == "ERR LIMIT_REACHED 127.0.0.1 has its limit of 2 connections")
            #expect(third.readsToEnd())
            try first.send("QUIT\n")
            #expect(try first.readLine() == "OK bye")
            #expect(first.readsToEnd())
            try await eventually("the closed connection's place to be free") {
                let again = try broker.socket(timeoutSeconds: 5)
                try again.send("PING\n")
                return (try? again.readLine()) == "PONG"
            }
        }
    }

    // The pure deadlines, with a clock passed in.

    @Test func deadlinesFollowActivityAndPartialRequests() {
        var limits = SpoolLimits()
        limits.idleTimeoutMs = 10
        limits.partialRequestTimeoutMs = 5
        let ms: UInt64 = 1_000_000
        var deadlines = ConnectionDeadlines(limits: limits, nowNs: 0)
        #expect(deadlines.expired(atNs: 9 * ms, mayBeIdle: true) == nil)
        #expect(deadlines.expired(atNs: 10 * ms, mayBeIdle: true) == .idle)
        #expect(deadlines.expired(atNs: 100 * ms, mayBeIdle: false) == nil)
        deadlines.activity(atNs: 8 * ms)
        #expect(deadlines.expired(atNs: 17 * ms, mayBeIdle: true) == nil)
        deadlines.partialRequest(atNs: 20 * ms)
        deadlines.partialRequest(atNs: 22 * ms)  // the clock runs from the first byte
        #expect(deadlines.expired(atNs: 24 * ms, mayBeIdle: true) == nil)
        #expect(deadlines.expired(atNs: 25 * ms, mayBeIdle: false) == .partialRequest)
        deadlines.noPartialRequest()
        #expect(deadlines.expired(atNs: 25 * ms, mayBeIdle: false) == nil)

        limits.idleTimeoutMs = 0
        limits.partialRequestTimeoutMs = 0
        let off = ConnectionDeadlines(limits: limits, nowNs: 0)
        #expect(off.deadline(mayBeIdle: true) == nil)
    }

    @Test func phasesSayWhatIsStillRead() {
        #expect(ConnectionPhase.open.inputClosed() == .inputEnded)
        #expect(ConnectionPhase.closing.inputClosed() == .closing)
        #expect(ConnectionPhase.inputEnded.parsesInput)
        #expect(!ConnectionPhase.closing.parsesInput)
        #expect(ConnectionPhase.refused.closesAfterReplies)
        #expect(ConnectionPhase.new.close() == .new)
        #expect(!ConnectionPhase.closed.isActive)
    }
}
