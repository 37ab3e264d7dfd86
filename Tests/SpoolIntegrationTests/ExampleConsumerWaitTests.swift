import Foundation
import SpoolClient
import Testing

/// The Python consumers wait for records as long as it takes, and Ctrl-C ends them quietly.
@Suite("examples/python: waiting and Ctrl-C", .timeLimit(.minutes(3)), .enabled(if: ExamplesTests.python3 != nil, "python3 is not on PATH"))
struct ExampleConsumerWaitTests {
    /// group_consumer.py's socket once had a 60 s timeout for every read: a quiet minute ended it
    /// with a TimeoutError traceback.
    static let quietSeconds = 65.0

    @Test("group_consumer.py: a minute without records, then the next one is printed; Ctrl-C: status 130, no traceback")
    func groupConsumerWaitsAndStopsQuietly() async throws {
        try await DocShell.with { shell in
            let admin = try await shell.broker.client()
            try await admin.createTopic("quiet", partitions: 1)
            let member = try shell.launch("python3 examples/python/group_consumer.py --topic quiet --group g --port \(shell.broker.port)")
            try await eventually("the member to own the partition") {
                try await admin.describeGroup("g").members.values.map(\.count) == [1]
            }
            // The quiet minute is the point of the test: a deadline, checked while it runs.
            let quietUntil = Date().addingTimeInterval(Self.quietSeconds)
            while Date() < quietUntil {
                try #require(member.process.isRunning, "it stopped while waiting: \(member.err)")
                try await Task.sleep(for: .milliseconds(500))
            }
            _ = try await admin.publish(topic: "quiet", value: "at last")
            try await eventually("the record to be printed") { member.lines.contains("quiet 0 0 - at last") }

            member.interrupt()
            #expect(try await member.waitForExit() == 130)
            #expect(member.err.isEmpty, "a traceback: \(member.err)")
            await admin.close()
        }
    }

    @Test("consumer.py: Ctrl-C while it waits: status 130, no traceback")
    func consumerStopsQuietly() async throws {
        try await DocShell.with { shell in
            let admin = try await shell.broker.client()
            try await admin.createTopic("orders", partitions: 3)
            let consumer = try shell.launch("python3 examples/python/consumer.py --topic orders --from latest --port \(shell.broker.port)")
            try await eventually("the consumer to connect") { try await admin.stats()["connections"] ?? 0 >= 2 }
            consumer.interrupt()
            #expect(try await consumer.waitForExit() == 130)
            #expect(consumer.err.isEmpty, "a traceback: \(consumer.err)")
            await admin.close()
        }
    }
}
