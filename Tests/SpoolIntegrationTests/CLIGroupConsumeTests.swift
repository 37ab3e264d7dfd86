import Foundation
import SpoolClient
import Testing

@Suite("spool consume --group", .timeLimit(.minutes(1)))
struct CLIGroupConsumeTests {
    @Test("a member commits what it printed: the next member of the group goes on from there")
    func commitsWhatItPrinted() async throws {
        try await withTestBroker { broker in
            let spool = try #require(ChildProcess.builtProduct("spool"))
            let server = "127.0.0.1:\(broker.port)"
            let admin = try await broker.client()
            try await admin.createTopic("jobs")
            _ = try await admin.publish(batch: (0..<10).map { OutgoingRecord(topic: "jobs", value: "j\($0)") })

            let first = try await ChildProcess.run(spool, ["consume", "jobs", "--group", "w", "--from", "earliest", "--count", "4", "--server", server])
            #expect(first.status == 0, "\(first.err)")
            #expect(first.out == (0..<4).map { "j\($0)\n" }.joined())
            // The member has left (its connection closed); its commit stays.
            try await eventually("the group's commit of partition 0") {
                try await admin.describeGroup("w").lag.first { $0.partition == 0 }?.committed == 4
            }
            let second = try await ChildProcess.run(spool, ["consume", "jobs", "--group", "w", "--count", "6", "--server", server])
            #expect(second.status == 0, "\(second.err)")
            #expect(second.out == (4..<10).map { "j\($0)\n" }.joined())
            await admin.close()
        }
    }

    @Test("--group refuses --until-caught-up, an offset for --from and an illegal name: exit 2")
    func usage() async throws {
        let spool = try #require(ChildProcess.builtProduct("spool"))
        for extra in [["--group", "g", "--until-caught-up"], ["--group", "g", "--from", "5"], ["--group", "bad/name"]] {
            let result = try await ChildProcess.run(spool, ["consume", "t"] + extra + ["--server", "127.0.0.1:1"])
            #expect(result.status == 2, "\(extra): \(result.err)")
        }
    }
}
