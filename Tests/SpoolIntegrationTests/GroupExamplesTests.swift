import Foundation
import SpoolClient
import Testing

/// Runs examples/groups.md as written: its commands are read from the file and typed into bash
/// (a Python member with `--port` added, since the test's broker is not on 7070).
@Suite("Group examples", .timeLimit(.minutes(1)), .enabled(if: ExamplesTests.python3 != nil, "python3 is not on PATH"))
struct GroupExamplesTests {
    static let document = "examples/groups.md"

    /// A member's line pointed at this test's broker.
    func member(_ line: String, _ shell: DocShell) -> String {
        "\(line) --port \(shell.broker.port)"
    }

    /// The records among a member's lines, `<name><topic> <partition> <offset> <key> <value>`, as
    /// (partition, value); its `OK`, `ASSIGNED` and `REVOKED` lines are left out.
    func records(_ lines: some Sequence<String>, name: String) -> [(partition: String, value: String)] {
        lines.compactMap { line in
            guard line.hasPrefix(name) else { return nil }
            let fields = line.dropFirst(name.count).split(separator: " ", maxSplits: 4).map(String.init)
            guard fields.count == 5, !["OK", "ASSIGNED", "REVOKED"].contains(fields[0]) else { return nil }
            return (fields[1], fields[4])
        }
    }

    @Test("worker pool: workers start first, jobs keep coming, every worker gets a share; Ctrl-C hands one's partitions to the others")
    func workerPool() async throws {
        let commands = try DocFile(Self.document).shellCommands
        let create = try #require(commands.first { $0.hasPrefix("spool create jobs") })
        let workerLines = commands.filter { $0.contains("group_consumer.py --topic jobs --group workers") }
        let producer = try #require(commands.first { $0.contains("| spool produce jobs") })
        let watch = try #require(commands.first { $0.hasPrefix("spool group workers") })
        let lagQuery = try #require(commands.first { $0.hasPrefix("sqlite3 ") && $0.contains("consumer_lag") })
        try #require(workerLines.count == 3)
        let names = ["w1 ", "w2 ", "w3 "]

        try await DocShell.with { shell in
            let admin = try await shell.broker.client()
            let create = try await shell.run(create)
            #expect(create.status == 0, "\(create.err)")

            let workers = try workerLines.map { try shell.launch(member($0, shell)) }
            try await eventually("each of the three workers to own two partitions") {
                try await admin.describeGroup("workers").members.values.map(\.count).sorted() == [2, 2, 2]
            }
            let jobs = try shell.launch(producer)
            try await eventually(timeout: .seconds(20), "every worker to print jobs") {
                zip(workers, names).allSatisfy { records($0.lines, name: $1).count >= 3 }
            }
            // Each printed only its own two partitions: together all six, none twice.
            let partitions = zip(workers, names).map { Set(records($0.lines, name: $1).map(\.partition)) }
            #expect(partitions.map(\.count) == [2, 2, 2])
            #expect(partitions.reduce(Set<String>()) { $0.union($1) }.count == 6)

            let group = try await shell.run(watch)
            #expect(group.status == 0 && group.out.contains("jobs"), "\(group.err)")
            // The broker commits every second; then the view in partition 0's file shows the group.
            try await eventually("consumer_lag to show the group") {
                let lag = try await shell.run(lagQuery)
                return lag.status == 0 && lag.out.contains("workers")
            }

            // Ctrl-C in w3's terminal: it ends quietly, and w1 and w2 carry on with its partitions.
            let linesBefore = workers.map(\.lines.count)
            workers[2].interrupt()
            let status = try await workers[2].waitForExit()
            #expect(status == 130 || status == 0, "exit status \(status)")
            #expect(workers[2].err.isEmpty, "a traceback: \(workers[2].err)")
            try await eventually(timeout: .seconds(20), "w1 and w2 to print records of all six partitions") {
                let later = (0..<2).flatMap { records(workers[$0].lines.dropFirst(linesBefore[$0]), name: names[$0]) }
                return Set(later.map(\.partition)).count == 6
            }
            jobs.interrupt()
            _ = try await jobs.waitForExit()
            await admin.close()
        }
    }

    @Test("fan-out: two groups each print every record; --manual commits each one")
    func fanOutAndManualCommits() async throws {
        let commands = try DocFile(Self.document).shellCommands
        let create = try #require(commands.first { $0.hasPrefix("spool create invoices") })
        let produce = try #require(commands.first { $0.hasSuffix("| spool produce invoices") })
        let billing = try #require(commands.first { $0.contains("--group billing") })
        let audit = try #require(commands.first { $0.contains("--group audit") })
        let manual = try #require(commands.first { $0.contains("--group archive --manual") })
        let watch = try #require(commands.first { $0.hasPrefix("spool group archive") })

        try await DocShell.with { shell in
            #expect(try await shell.run(create).status == 0)
            #expect(try await shell.run(produce).status == 0)

            let members = try [billing, audit, manual].map { try shell.launch(member($0, shell)) }
            for (command, name) in zip(members, ["billing ", "audit ", ""]) {
                #expect(try await command.waitForExit(timeout: .seconds(20)) == 0, "\(command.line): \(command.err)")
                let values = records(command.lines, name: name).map(\.value)
                #expect(values.count == 300 && Set(values) == Set((1...300).map(String.init)), "\(command.line)")
            }
            // The manual member committed every record it printed: nothing is left for its group.
            let admin = try await shell.broker.client()
            let lag = try await admin.describeGroup("archive").lag
            #expect(lag.count == 3 && lag.allSatisfy { $0.lagRecords == 0 }, "\(lag)")
            #expect(lag.compactMap(\.committed).reduce(0, +) == 300, "\(lag)")
            let group = try await shell.run(watch)
            #expect(group.status == 0 && group.out.contains("invoices"), "\(group.err)")
            await admin.close()
        }
    }
}
