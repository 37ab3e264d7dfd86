import Foundation
import SpoolClient
import Testing

@Suite("spool groups / spool group", .timeLimit(.minutes(1)))
struct CLIGroupTests {
    @Test func showsGroupsMembersAndLag() async throws {
        try await withTestBroker { broker in
            let cli = try SpoolCLI(port: broker.port)
            let admin = try await broker.client()
            try await admin.createTopic("orders", partitions: 2)
            _ = try await admin.publish(batch: (0..<10).map { OutgoingRecord(topic: "orders", value: "o\($0)", partition: $0 % 2) })
            let member = try await broker.client()
            let joined = try await member.subscribe(topics: ["orders"], group: "billing", from: .earliest, autoCommit: false)
            let id = String(joined.split(separator: " ").first { $0.hasPrefix("member=") }!.dropFirst("member=".count))
            try await eventually("the member to own both partitions") {
                try await admin.describeGroup("billing").members[id]?.count == 2
            }
            try await member.commit(topic: "orders", partition: 0, offset: 3)

            let groups = try await cli.run("groups")
            #expect(groups.status == 0)
            let groupRows = groups.out.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            #expect(groupRows.first == ["GROUP", "GENERATION", "MEMBERS"])
            let billing = try #require(groupRows.first { $0.first == "billing" })
            #expect(billing.count == 3 && Int(billing[1]).map { $0 >= 1 } == true && billing[2] == "1", "\(billing)")
            let group = try await cli.run("group", "billing")
            #expect(group.status == 0)
            let lines = group.out.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
            // TOPIC PARTITION OWNER COMMITTED END LAG LAG_MS (lag in ms depends on the clock).
            let row0 = try #require(lines.first { $0.first == "orders" && $0.count == 7 && $0[1] == "0" })
            #expect(Array(row0.prefix(6)) == ["orders", "0", id, "3", "5", "2"])
            #expect(Int(row0[6]).map { $0 >= 0 } == true)
            let row1 = try #require(lines.first { $0.first == "orders" && $0.count == 7 && $0[1] == "1" })
            #expect(Array(row1.prefix(6)) == ["orders", "1", id, "-", "5", "5"])
            // A name that is not a legal group name is a usage error, and never reaches the broker as
            // a second command.
            let unknown = try await cli.run("group", "bad/name")
            #expect(unknown.status == 2)
            let injected = try await cli.run("group", "x\nDROP orders")
            #expect(injected.status == 2)
            #expect(try await admin.topics().map(\.name) == ["orders"])
            await member.close()
            await admin.close()
        }
    }
}
