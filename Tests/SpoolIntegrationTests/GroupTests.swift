import Foundation
import NIOCore
import SpoolClient
import SpoolCore
import SpoolProtocol
import Synchronization
import Testing

/// Collects what a client is pushed (records and group events) in the background, until the
/// connection closes.
final class Inbox: Sendable {
    private final class Store: Sendable {
        let messages = Mutex<[Message]>([])
        let events = Mutex<[GroupEvent]>([])
    }

    private let store = Store()

    init(_ client: SpoolClient) {
        let store = self.store
        Task { for await message in client.deliveries { store.messages.withLock { $0.append(message) } } }
        Task { for await event in client.groupEvents { store.events.withLock { $0.append(event) } } }
    }

    var received: [Message] { store.messages.withLock { $0 } }
    var groupEvents: [GroupEvent] { store.events.withLock { $0 } }
    var values: [String] { received.map(\.valueString) }

    /// Partitions currently assigned according to the ASSIGNED/REVOKED lines seen, in order.
    var owned: Set<String> {
        var owned = Set<String>()
        for event in groupEvents {
            for p in event.partitions {
                if event.kind == .assigned { owned.insert("\(event.topic)/\(p)") } else { owned.remove("\(event.topic)/\(p)") }
            }
        }
        return owned
    }
}

@Suite("Consumer groups over loopback", .timeLimit(.minutes(2)))
struct GroupTests {
    /// Waits until the group's members own disjoint partition sets that cover every partition.
    func settled(_ client: SpoolClient, group: String, members: Int, partitions: Int) async throws {
        try await eventually(timeout: .seconds(15), "group \(group) to settle on \(members) members") {
            let description = try await client.describeGroup(group)
            let owned = description.members.values.flatMap { $0 }
            return description.members.count == members && owned.count == partitions && Set(owned).count == partitions
                && description.members.values.allSatisfy { abs($0.count - partitions / members) <= 1 }
        }
    }

    @Test func membersShareThePartitionsAndTheGroupGetsEveryRecord() async throws {
        try await withTestBroker { broker in
            let admin = try await broker.client()
            try await admin.createTopic("jobs", partitions: 6)
            var members: [SpoolClient] = []
            var inboxes: [Inbox] = []
            for _ in 0..<3 {
                let member = try await broker.client()
                inboxes.append(Inbox(member))
                try await member.subscribe(topics: ["jobs"], group: "workers", from: .earliest)
                members.append(member)
                // No partition is ever owned by two members: check the group's view as it changes.
                let owned = try await admin.describeGroup("workers").members.values.flatMap { $0 }
                #expect(Set(owned).count == owned.count)
            }
            try await settled(admin, group: "workers", members: 3, partitions: 6)
            _ = try await admin.publish(batch: (0..<600).map { OutgoingRecord(topic: "jobs", value: "job-\($0)") })
            try await eventually("every record delivered to the group") {
                Set(inboxes.flatMap(\.values)).count == 600
            }
            // Each partition's records went to exactly one member (a work queue), each member got some.
            var receivers: [Int32: Set<Int>] = [:]
            for (index, inbox) in inboxes.enumerated() {
                for message in inbox.received { receivers[message.partition.rawValue, default: []].insert(index) }
            }
            #expect(receivers.count == 6 && receivers.values.allSatisfy { $0.count == 1 })
            #expect(inboxes.allSatisfy { !$0.received.isEmpty })
            #expect(inboxes.map(\.owned.count).sorted() == [2, 2, 2])
            for member in members { await member.close() }
            await admin.close()
        }
    }

    @Test func everyGroupReceivesEveryRecord() async throws {
        try await withTestBroker { broker in
            let admin = try await broker.client()
            try await admin.createTopic("news", partitions: 3)
            let billing = try await broker.client()
            let audit = try await broker.client()
            let billingInbox = Inbox(billing)
            let auditInbox = Inbox(audit)
            try await billing.subscribe(topics: ["news"], group: "billing", from: .earliest)
            try await audit.subscribe(topics: ["news"], group: "audit", from: .earliest)
            _ = try await admin.publish(batch: (0..<300).map { OutgoingRecord(topic: "news", value: "n\($0)") })
            try await eventually("both groups to get all 300") {
                Set(billingInbox.values).count == 300 && Set(auditInbox.values).count == 300
            }
            #expect(try await admin.groups().keys.sorted() == ["audit", "billing"])
            await billing.close()
            await audit.close()
            await admin.close()
        }
    }

    @Test func aClosedMembersPartitionsMoveToTheOthers() async throws {
        try await withTestBroker { broker in
            let admin = try await broker.client()
            try await admin.createTopic("tasks", partitions: 4)
            let stays = try await broker.client()
            let stayInbox = Inbox(stays)
            try await stays.subscribe(topics: ["tasks"], group: "g", from: .earliest)
            let leaves = try await broker.client()
            try await leaves.subscribe(topics: ["tasks"], group: "g", from: .earliest)
            try await settled(admin, group: "g", members: 2, partitions: 4)
            let generation = try await admin.describeGroup("g").generation
            await leaves.close()
            // A closed connection leaves at once; the survivor owns everything in the next generation.
            try await settled(admin, group: "g", members: 1, partitions: 4)
            #expect(try await admin.describeGroup("g").generation > generation)
            _ = try await admin.publish(batch: (0..<40).map { OutgoingRecord(topic: "tasks", value: "t\($0)") })
            try await eventually("the survivor to get every new record") { Set(stayInbox.values).isSuperset(of: (0..<40).map { "t\($0)" }) }
            #expect(stayInbox.owned.count == 4)
            await stays.close()
            await admin.close()
        }
    }

    @Test func commitsAreForOwnedPartitionsOnlyAndResumeAfterARestart() async throws {
        try await withTemporaryFolder { directory in
            try await withTestBroker(on: directory) { first in
                let admin = try await first.client()
                try await admin.createTopic("ledger", partitions: 2)
                _ = try await admin.publish(batch: (0..<20).map { OutgoingRecord(topic: "ledger", value: "e\($0)", partition: $0 % 2) })
                // Not a member: no commits.
                await #expect(throws: SpoolClientError.server(code: "NOT_ASSIGNED", message: "this connection is not a member of a group; SUB ... group=<g> first")) {
                    try await admin.commit(topic: "ledger", partition: 0, offset: 1)
                }
                let member = try await first.client()
                let inbox = Inbox(member)
                try await member.subscribe(topics: ["ledger"], group: "acct", from: .earliest, autoCommit: false)
                try await eventually("all 20 delivered") { inbox.received.count == 20 }
                #expect(try await member.commit(topic: "ledger", partition: 0, offset: 4) == "OK committed ledger 0 4")
                #expect(try await member.commit(topic: "ledger", partition: 1, offset: 7) == "OK committed ledger 1 7")
                await #expect { try await member.commit(topic: "ledger", partition: 1, offset: 99) } throws: {
                    ($0 as? SpoolClientError)?.errorCode == .offsetOutOfRange
                }
                // A second member takes one partition; the first may no longer commit it.
                let other = try await first.client()
                try await other.subscribe(topics: ["ledger"], group: "acct", from: .earliest, autoCommit: false)
                try await settled(admin, group: "acct", members: 2, partitions: 2)
                let description = try await admin.describeGroup("acct")
                let firstMember = try #require(description.members.first { $0.value.count == 1 && inbox.owned.contains($0.value[0]) })
                let lost = ["ledger/0", "ledger/1"].first { $0 != firstMember.value[0] }!
                let lostPartition = Int(lost.split(separator: "/")[1])!
                do {
                    try await member.commit(topic: "ledger", partition: lostPartition, offset: 5)
                    Issue.record("commit of a revoked partition was accepted")
                } catch let error as SpoolClientError {
                    #expect(error.errorCode == .notAssigned)
                }
                #expect(description.lag.map(\.committed) == [4, 7])
                await member.close()
                await other.close()
                await admin.close()
            }

            // After a restart the group resumes exactly at its commits.
            try await withTestBroker(on: directory) { second in
                let resumed = try await second.client()
                let resumedInbox = Inbox(resumed)
                try await resumed.subscribe(topics: ["ledger"], group: "acct", from: .earliest, autoCommit: false)
                try await eventually("the uncommitted records to arrive") { resumedInbox.received.count == 6 + 3 }
                let firstOffsets = Dictionary(grouping: resumedInbox.received, by: \.partition.rawValue).mapValues { $0.map(\.offset.rawValue).min() }
                #expect(firstOffsets == [0: 4, 1: 7])
                await resumed.close()
            }
        }
    }

    @Test func aDeadMembersSuccessorRedeliversOnlyWhatFollowsItsLastCommit() async throws {
        try await withTestBroker { broker in
            let admin = try await broker.client()
            try await admin.createTopic("work", partitions: 2)
            _ = try await admin.publish(batch: (0..<40).map { OutgoingRecord(topic: "work", value: "w\($0)", partition: $0 % 2) })
            let dying = try await broker.client()
            let dyingInbox = Inbox(dying)
            try await dying.subscribe(topics: ["work"], group: "crew", from: .earliest, autoCommit: false)
            try await eventually("all 40 delivered to the first member") { dyingInbox.received.count == 40 }
            try await dying.commit(topic: "work", partition: 0, offset: 12)
            try await dying.commit(topic: "work", partition: 1, offset: 3)
            await dying.close()  // dies: no clean leave, nothing more committed

            let successor = try await broker.client()
            let inbox = Inbox(successor)
            try await successor.subscribe(topics: ["work"], group: "crew", from: .earliest, autoCommit: false)
            try await eventually("the uncommitted records to be redelivered") { inbox.received.count == (20 - 12) + (20 - 3) }
            let redelivered = Dictionary(grouping: inbox.received, by: \.partition.rawValue).mapValues { $0.map(\.offset.rawValue).sorted() }
            #expect(redelivered[0] == Array(12..<20))
            #expect(redelivered[1] == Array(3..<20))
            await successor.close()
            await admin.close()
        }
    }

    @Test func autoCommitRecordsWhatWasDelivered() async throws {
        var limits = SpoolLimits()
        limits.autoCommitIntervalMs = 100
        try await withTestBroker(limits: limits) { broker in
            let admin = try await broker.client()
            try await admin.createTopic("auto", partitions: 2)
            let member = try await broker.client()
            let inbox = Inbox(member)
            try await member.subscribe(topics: ["auto"], group: "ac", from: .earliest)
            _ = try await admin.publish(batch: (0..<50).map { OutgoingRecord(topic: "auto", value: "a\($0)", partition: $0 % 2) })
            try await eventually("delivery") { inbox.received.count == 50 }
            try await eventually("auto-commit to catch up") {
                try await admin.describeGroup("ac").lag.allSatisfy { $0.committed == 25 && $0.lagRecords == 0 }
            }
            // The consumer_lag view in the partition database says the same.
            let view = try SQLiteView(path: broker.dataDirectory + "/topics/auto/0.sqlite3")
            #expect(try view.lag(group: "ac") == 0)
            await member.close()
            await admin.close()
        }
    }

    /// UNSUB of a commit=auto member commits what it was delivered before it leaves, so the
    /// next owner starts right after it (no record twice); and the same connection can join
    /// again and is served as a new member.
    @Test func aCleanLeaveHandsOverWhereItStoppedAndTheConnectionCanJoinAgain() async throws {
        var limits = SpoolLimits()
        limits.autoCommitIntervalMs = 600_000  // only the leave commits
        try await withTestBroker(limits: limits) { broker in
            let admin = try await broker.client()
            try await admin.createTopic("handover", partitions: 1)
            let first = try await broker.client()
            let firstInbox = Inbox(first)
            try await first.subscribe(topics: ["handover"], group: "h", from: .earliest)
            _ = try await admin.publish(batch: (0..<30).map { OutgoingRecord(topic: "handover", value: "a\($0)") })
            try await eventually("the first member's delivery") { firstInbox.received.count == 30 }
            _ = try await first.unsubscribe()

            let second = try await broker.client()
            let secondInbox = Inbox(second)
            try await second.subscribe(topics: ["handover"], group: "h", from: .earliest)
            try await settled(admin, group: "h", members: 1, partitions: 1)
            _ = try await admin.publish(batch: (30..<35).map { OutgoingRecord(topic: "handover", value: "a\($0)") })
            try await eventually("the second member's delivery") { secondInbox.received.count >= 5 }
            #expect(secondInbox.values == (30..<35).map { "a\($0)" })

            // The first connection joins again, in another group: a new member with its own records.
            try await first.subscribe(topics: ["handover"], group: "again", from: .earliest)
            try await eventually("the rejoined member's delivery") { firstInbox.received.count == 65 }
            #expect(Array(firstInbox.values.suffix(35)) == (0..<35).map { "a\($0)" })
            #expect(secondInbox.values == (30..<35).map { "a\($0)" })
            await first.close()
            await second.close()
            await admin.close()
        }
    }

    @Test func aMemberThatStopsReadingIsRemovedAfterItsSession() async throws {
        var limits = SpoolLimits()
        limits.subscriptionBatchBytes = 64 * 1024
        try await withTestBroker(limits: limits) { broker in
            let admin = try await broker.client()
            try await admin.createTopic("flood", partitions: 2)
            let healthy = try await broker.client()
            let healthyInbox = Inbox(healthy)
            try await healthy.subscribe(topics: ["flood"], group: "f", from: .earliest)
            // A member that only reads and never sends (a person in telnet), also with a 1 s
            // session, in a quiet group: it must never be dropped.
            try await admin.createTopic("quiet", partitions: 1)
            let reader = try broker.socket()
            try reader.send("SUB quiet group=readers session=1000\n")
            #expect(try reader.readLine().hasPrefix("OK subscribed quiet group=readers"))
            #expect(try reader.readLine().hasPrefix("ASSIGNED quiet 0 group=readers"))
            // A raw member that never reads its socket, with a 1 s session.
            let stuck = try broker.socket()
            try stuck.send("SUB flood group=f from=earliest session=1000\n")
            try await settled(admin, group: "f", members: 2, partitions: 2)
            let value = ByteBuffer(repeating: UInt8(ascii: "x"), count: 16 * 1024)
            for _ in 0..<40 {
                _ = try await admin.publish(batch: (0..<50).map { _ in OutgoingRecord(topic: "flood", value: value) })
            }
            // Its output stalls, the session runs out, the healthy member gets both partitions.
            try await settled(admin, group: "f", members: 1, partitions: 2)
            #expect(healthyInbox.owned.count == 2)
            // More than a session has passed (the stuck member needed one to go): the idle reader stays.
            #expect(try await admin.describeGroup("readers").members.count == 1)
            await healthy.close()
            await admin.close()
        }
    }

    @Test func aSlowSubscriberDoesNotGrowTheBroker() async throws {
        var limits = SpoolLimits()
        limits.subscriptionBatchBytes = 64 * 1024
        try await withTestBroker(limits: limits) { broker in
            let admin = try await broker.client()
            try await admin.createTopic("big", partitions: 1)
            let slow = try broker.socket()
            try slow.send("SUB big from=earliest\n")
            let value = ByteBuffer(repeating: UInt8(ascii: "y"), count: 32 * 1024)
            let total = 1200  // ~39 MB produced while the subscriber reads nothing
            for _ in 0..<(total / 100) {
                _ = try await admin.publish(batch: (0..<100).map { _ in OutgoingRecord(topic: "big", value: value) })
            }
            // What the broker sent is bounded by the socket buffers (a few MiB on loopback) plus one
            // 64 KiB batch in flight, not by what was produced.
            // Wait until the broker's output stops growing (a runaway sender never would).
            var sent: Int64 = -1
            try await eventually(timeout: .seconds(10), pollEvery: .milliseconds(200), "the broker's output to stop growing") {
                let now = try await admin.stats()["bytes_out_total"] ?? 0
                defer { sent = now }
                return now == sent
            }
            #expect(sent < 16 * 1024 * 1024, "sent \(sent) bytes to a reader that reads nothing")
            // And it resumes when the reader reads: every record arrives.
            #expect(try slow.readLine().hasPrefix("OK subscribed big"))
            var count = 0
            while count < total {
                let header = try slow.readLine().split(separator: " ")
                let length = Int(header[6])!
                _ = try slow.readBytes(length + 1)
                count += 1
            }
            #expect(count == total)
            await admin.close()
        }
    }
}
