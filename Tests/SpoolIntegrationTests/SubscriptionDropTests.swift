import Foundation
import SpoolCore
import Testing

/// Issue 9 item 8: a plain subscription whose topic is dropped ends with a line, and the
/// connection can FETCH again.
@Suite("A plain subscription to a dropped topic", .timeLimit(.minutes(1)))
struct SubscriptionDropTests {
    @Test func droppingTheTopicEndsTheSubscriptionWithALine() async throws {
        try await withTestBroker { broker in
            let admin = try broker.socket()
            #expect(try admin.ask("CREATE r partitions=2").hasPrefix("OK"))
            let subscriber = try broker.socket()
            #expect(try subscriber.ask("SUB r from=earliest") == "OK subscribed r partitions=2 from=earliest")
            #expect(try admin.ask("PUB r partition=1 :before") == "OK r 1 0")
            #expect(try subscriber.readLine().hasPrefix("MSG r 1 0 "))
            #expect(try subscriber.readLine() == "before")
            #expect(try admin.ask("DROP r") == "OK dropped r")
            #expect(try subscriber.readLine() == "UNSUBSCRIBED r reason=dropped")
            // The connection has no subscription left: FETCH works on it again.
            #expect(try admin.ask("CREATE r") == "OK r partitions=1 replication=1")
            #expect(try admin.ask("PUB r :after") == "OK r 0 0")
            let fetched = try subscriber.askBlock("FETCH r 0 0")
            #expect(fetched.count == 3 && fetched[1] == "after" && fetched[2] == "END r 0 next=1 high=1", "\(fetched)")
            #expect(try subscriber.ask("UNSUB") == "OK unsubscribed 0")
        }
    }
}
