import Foundation
import SpoolClient
import Testing

/// The programs in examples/ still work against a real broker: they are documentation, and
/// documentation that does not run is wrong.
@Suite("examples/", .timeLimit(.minutes(2)))
struct ExamplesTests {
    /// `/usr/bin/env python3` when a python3 is on PATH (present here and in CI).
    static let python3: URL? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let found = path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/python3") }
        return found ? URL(fileURLWithPath: "/usr/bin/env") : nil
    }()

    static let pythonFolder = ChildProcess.packageRoot.appendingPathComponent("examples/python")

    func python(_ script: String, _ arguments: [String], stdin: [UInt8] = []) async throws -> ChildProcess.Result {
        let env = try #require(Self.python3, "python3 is not on PATH")
        return try await ChildProcess.run(
            env, ["python3", Self.pythonFolder.appendingPathComponent(script).path] + arguments, stdin: stdin)
    }

    @Test("producer.py → consumer.py: every record round-trips", .enabled(if: python3 != nil, "python3 is not on PATH"))
    func pythonRoundTrip() async throws {
        try await withTestBroker { broker in
            let port = "\(broker.port)"
            let produced = try await python("producer.py", ["--port", port, "--topic", "orders", "--create", "3", "--count", "250", "--window", "40"])
            #expect(produced.status == 0, "\(produced.err)")
            #expect(produced.out.hasPrefix("produced 250 records"))

            let client = try await broker.client()
            #expect(try await client.describe("orders").map(\.records).reduce(0, +) == 250)

            let consumed = try await python("consumer.py", ["--port", port, "--topic", "orders", "--count", "250", "--wait", "100"])
            #expect(consumed.status == 0, "\(consumed.err)")
            // Each line: <partition> <offset> <key> <value>
            let rows = consumed.out.split(separator: "\n").map { $0.split(separator: " ", maxSplits: 3).map(String.init) }
            #expect(rows.count == 250)
            #expect(Set(rows.map { $0[3] }) == Set((0..<250).map { "message \($0)" }))
            #expect(rows.allSatisfy { $0[2] == "-" })

            // The consumer also waits for new records: one published after it starts shows up.
            async let waiting = python("consumer.py", ["--port", port, "--topic", "orders", "--from", "latest", "--count", "1"])
            try await eventually { try await client.stats()["connections"] ?? 0 >= 2 }
            // `latest` resolves at its first FETCH; publish until the waiting consumer has seen one.
            let late = Task {
                while !Task.isCancelled {
                    _ = try await client.publish(topic: "orders", value: "late")
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            let waited = try await waiting
            late.cancel()
            _ = await late.result
            #expect(waited.status == 0 && waited.out.hasSuffix(" - late\n"))
            await client.close()
        }
    }

    @Test("producer.py --stdin with a key", .enabled(if: python3 != nil, "python3 is not on PATH"))
    func pythonStandardInputWithKey() async throws {
        try await withTestBroker { broker in
            let client = try await broker.client()
            try await client.createTopic("lines", partitions: 2)
            let produced = try await python(
                "producer.py", ["--port", "\(broker.port)", "--topic", "lines", "--stdin", "--key", "user-42"], stdin: Array("one\ntwo words\nthree\n".utf8))
            #expect(produced.status == 0, "\(produced.err)")

            let consumed = try await python("consumer.py", ["--port", "\(broker.port)", "--topic", "lines", "--count", "3"])
            let rows = consumed.out.split(separator: "\n").map(String.init)
            // One key, so one partition, in order.
            #expect(rows.map { $0.split(separator: " ", maxSplits: 3)[3] } == ["one", "two words", "three"])
            #expect(Set(rows.map { $0.split(separator: " ")[0] }).count == 1)
            #expect(rows.allSatisfy { $0.split(separator: " ")[2] == "user-42" })
            await client.close()
        }
    }

    @Test("producer.py and consumer.py exit non-zero on ERR", .enabled(if: python3 != nil, "python3 is not on PATH"))
    func pythonErrors() async throws {
        try await withTestBroker { broker in
            let produced = try await python("producer.py", ["--port", "\(broker.port)", "--topic", "nope"])
            #expect(produced.status != 0 && produced.err.contains("ERR UNKNOWN_TOPIC"))
            let consumed = try await python("consumer.py", ["--port", "\(broker.port)", "--topic", "nope"])
            #expect(consumed.status != 0 && consumed.err.contains("ERR UNKNOWN_TOPIC"))
        }
    }

    @Test("examples/README.md: its Python commands as written (with --port), Ctrl-C ending the endless one", .enabled(if: python3 != nil, "python3 is not on PATH"))
    func readmePythonCommands() async throws {
        let commands = try DocFile("examples/README.md").shellCommands.filter { $0.hasPrefix("python3 ") }
        try #require(commands.count == 4, "\(commands)")
        try await DocShell.with { shell in
            try Data("first line\nsecond line\nthird line\n".utf8).write(to: URL(fileURLWithPath: shell.folder + "/lines.txt"))
            let port = " --port \(shell.broker.port)"
            var produced = 0
            for command in commands {
                if command.contains("consumer.py"), !command.contains("--count") {
                    // "keep waiting for new records (Ctrl-C to stop)": all of them, then Ctrl-C.
                    let consumer = try shell.launch(command + port)
                    try await eventually("\(command) to print all \(produced) records") { consumer.lines.count == produced }
                    consumer.interrupt()
                    #expect(try await consumer.waitForExit() == 130, "\(command): \(consumer.err)")
                    #expect(consumer.err.isEmpty, "\(command): \(consumer.err)")
                    #expect(consumer.lines.filter { $0.hasSuffix(" user-42 second line") }.count == 1)
                    continue
                }
                let result = try await shell.run(command + port)
                #expect(result.status == 0, "\(command): \(result.err)")
                if command.contains("producer.py") {
                    let count = command.contains("--stdin") ? 3 : 1000
                    #expect(result.out.hasPrefix("produced \(count) records"), "\(command): \(result.out)")
                    produced += count
                } else {
                    #expect(result.out.split(separator: "\n").count == 1000, "\(command)")
                }
            }
            #expect(produced == 1003)
        }
    }

    @Test("spool-example with SPOOL_SERVER prints what examples/README.md shows")
    func swiftExampleOutputAsDocumented() async throws {
        let example = try #require(ChildProcess.builtProduct("spool-example"), "spool-example is built by swift test")
        let result = try await withTestBroker { broker in
            try await ChildProcess.run(example, [], environment: ["SPOOL_SERVER": "127.0.0.1:\(broker.port)"])
        }
        #expect(result.status == 0, "\(result.out)\(result.err)")
        let printed = result.out.split(separator: "\n").map(String.init)
        let documentedName = "example-2479762144"  // the random topic name in the documented run
        let topic = try #require(printed.first?.split(separator: " ").dropFirst().first.map(String.init))
        let documented = try DocFile("examples/README.md").block(after: "Expected output:")
            .filter { $0 != "..." }
            .map { $0.replacingOccurrences(of: documentedName, with: topic) }
        // Every documented line, in order ("..." stands for the fetched lines between).
        var rest = printed[...]
        for line in documented {
            let found = try #require(rest.firstIndex(of: line), "'\(line)' is not in the output:\n\(result.out)")
            rest = rest[(found + 1)...]
        }
        #expect(printed.filter { $0.hasPrefix("fetched ") }.count == 10)
    }

    @Test("spool-example runs to the end")
    func swiftExample() async throws {
        try await withTestBroker { broker in
            let example = try #require(ChildProcess.builtProduct("spool-example"), "spool-example is built by swift test")
            let result = try await ChildProcess.run(example, ["127.0.0.1:\(broker.port)"])
            #expect(result.status == 0, "\(result.out)\(result.err)")
            #expect(result.out.contains("published 10 records, offsets 0...9"))
            #expect(result.out.contains(": pushed to subscribers\n"))
        }
    }
}
