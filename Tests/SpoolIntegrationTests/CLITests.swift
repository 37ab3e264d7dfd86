import Foundation
import NIOCore
import NIOPosix
import SpoolClient
import Testing

/// The `spool` CLI as a user runs it: the built binary as a child process against a real broker
/// on 127.0.0.1. Checks what a shell user sees: standard output, standard error, exit status.
@Suite("spool CLI", .timeLimit(.minutes(2)))
struct CLITests {
    // MARK: Topics

    @Test("create, topics, describe, drop")
    func topicLifecycle() async throws {
        try await withTestBroker { broker in
            let cli = try SpoolCLI(port: broker.port)

            let created = try await cli.run("create", "orders", "--partitions", "3")
            #expect(created.status == 0)
            #expect(created.out == "created orders partitions=3 replication=1\n")
            #expect(try await cli.run("create", "payments").status == 0)

            let topics = try await cli.run("topics")
            #expect(topics.out == "TOPIC     PARTITIONS\norders             3\npayments           1\n")
            #expect(try await cli.run("topics", "--names").out == "orders\npayments\n")

            _ = try await cli.run("produce", "orders", "--partition", "2", "x", "y")
            let describe = try await cli.run("describe", "orders")
            #expect(describe.status == 0)
            let lines = describe.out.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            #expect(lines[0] == ["topic", "orders:", "3", "partitions"])
            #expect(lines[1] == ["PARTITION", "LOW", "HIGH", "RECORDS", "BYTES"])
            #expect(lines[2].prefix(4) == ["0", "0", "0", "0"])
            #expect(lines[4].prefix(4) == ["2", "0", "2", "2"])
            #expect(lines[5].prefix(2) == ["total", "2"])

            let dropped = try await cli.run("drop", "payments")
            #expect(dropped.status == 0 && dropped.out == "dropped payments\n")
            #expect(try await cli.run("topics", "--names").out == "orders\n")
        }
    }

    // MARK: Produce and fetch

    @Test("produce VALUE arguments with a key; fetch as value, msg and json")
    func produceArgumentsAndFetchFormats() async throws {
        try await withTestBroker { broker in
            let cli = try SpoolCLI(port: broker.port)
            _ = try await cli.run("create", "t", "--partitions", "2")

            let produced = try await cli.run("produce", "t", "--key", "user-42", "--partition", "1", "--verbose", "one", "two words", "")
            #expect(produced.status == 0)
            #expect(produced.out == "1 0\n1 1\n1 2\n")
            let quiet = try await cli.run("produce", "t", "--partition", "1", "--acks", "all", "four")
            #expect(quiet.out == "" && quiet.err == "produced 1 record\n")

            #expect(try await cli.run("fetch", "t", "1").out == "one\ntwo words\n\nfour\n")
            #expect(try await cli.run("fetch", "t", "1", "--from", "1", "--max", "2").out == "two words\n\n")
            #expect(try await cli.run("fetch", "t", "0").out == "")

            let msg = try await cli.run("fetch", "t", "1", "--format", "msg", "--max", "1")
            let header = msg.out.split(separator: "\n")[0].split(separator: " ")
            #expect(header.count == 7)
            #expect(Array(header[0...3]) == ["MSG", "t", "1", "0"] && header[5] == "user-42" && header[6] == "3")
            #expect(msg.out.hasSuffix(" 3\none\n"))

            let json = try await cli.run("fetch", "t", "1", "--format", "json", "--from", "3")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
            #expect(object["topic"] as? String == "t")
            #expect(object["partition"] as? Int == 1 && object["offset"] as? Int == 3)
            #expect((object["timestamp_ms"] as? Int ?? 0) > 1_600_000_000_000)
            #expect(object["key"] is NSNull)
            #expect(object["value"] as? String == "four")
        }
    }

    @Test("produce from standard input: one record per line, pipelined in batches")
    func produceStandardInput() async throws {
        try await withTestBroker { broker in
            let cli = try SpoolCLI(port: broker.port)
            _ = try await cli.run("create", "lines")

            let values = (0..<2500).map { "line \($0) \"quoted\"\t\\" }
            // CRLF line ends are accepted too; the last line has no line end at all.
            let input = values[..<1200].joined(separator: "\n") + "\n" + values[1200...].joined(separator: "\r\n")
            let produced = try await cli.run("produce", "lines", "--batch", "1000", stdin: Array(input.utf8))
            #expect(produced.status == 0)
            #expect(produced.err == "produced 2500 records\n")

            let fetched = try await cli.run("fetch", "lines", "0")
            #expect(fetched.out == values.joined(separator: "\n") + "\n")
            let json = try await cli.run("fetch", "lines", "0", "--format", "json", "--from", "2499")
            #expect(json.out.contains(#""value":"line 2499 \"quoted\"\t\\""#))
        }
    }

    @Test("produce --file sends the file as one record, byte for byte")
    func produceBinaryFile() async throws {
        try await withTestBroker { broker in
            let cli = try SpoolCLI(port: broker.port)
            _ = try await cli.run("create", "blobs")

            let bytes: [UInt8] = Array(0...255) + [0x0D, 0x0A, 0x00, 0x0A] + Array("MSG blobs 0 0 0 - 1\n".utf8) + [0xFF, 0xFE]
            let path = NSTemporaryDirectory() + "spool-cli-\(UUID().uuidString).bin"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            defer { try? FileManager.default.removeItem(atPath: path) }
            let keyToken = "base64:AAEC"  // the key [0, 1, 2], not printable: given in its wire form
            let produced = try await cli.run("produce", "blobs", "--file", path, "--key", keyToken, "-v")
            #expect(produced.status == 0 && produced.out == "0 0\n")

            let client = try await broker.client()
            let batch = try await client.fetch(topic: "blobs", partition: 0, from: .earliest)
            #expect(batch.messages.count == 1)
            #expect(Array(batch.messages[0].value.readableBytesView) == bytes)
            #expect(batch.messages[0].key == [0, 1, 2])
            await client.close()

            #expect(try await cli.run("fetch", "blobs", "0").stdout == bytes + [0x0A])
            let msg = try await cli.run("fetch", "blobs", "0", "--format", "msg")
            #expect(msg.stdout.suffix(bytes.count + 1) == ArraySlice(bytes + [0x0A]))
            #expect(msg.out.hasPrefix("MSG blobs 0 0 ") && msg.out.contains(" \(keyToken) \(bytes.count)\n"))
            let json = try await cli.run("fetch", "blobs", "0", "--format", "json")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout)) as? [String: Any])
            #expect(object["value_base64"] as? String == Data(bytes).base64EncodedString())
            #expect(object["key_base64"] == nil && object["key"] as? String == "\u{0}\u{1}\u{2}")

            let missing = try await cli.run("produce", "blobs", "--file", path + ".missing")
            #expect(missing.status == 66 && missing.err.hasPrefix("spool: cannot read "))
        }
    }

    // MARK: Offsets, consume, tail

    @Test("offsets, with and without --time")
    func offsets() async throws {
        try await withTestBroker { broker in
            let cli = try SpoolCLI(port: broker.port)
            _ = try await cli.run("create", "t")
            #expect(try await cli.run("offsets", "t", "0").out == "earliest=0 latest=0\n")
            _ = try await cli.run("produce", "t", "a", "b", "c")
            #expect(try await cli.run("offsets", "t", "0").out == "earliest=0 latest=3\n")
            #expect(try await cli.run("offsets", "t", "0", "--time", "0").out == "earliest=0 latest=3 time=0 offset=0\n")
            let future = Int64(Date().timeIntervalSince1970 * 1000) + 86_400_000
            #expect(try await cli.run("offsets", "t", "0", "--time", "\(future)").out == "earliest=0 latest=3 time=\(future) offset=3\n")
        }
    }

    @Test("consume reads every partition; --until-caught-up and --count stop it")
    func consume() async throws {
        try await withTestBroker { broker in
            let cli = try SpoolCLI(port: broker.port)
            _ = try await cli.run("create", "t", "--partitions", "3")
            let values = (0..<30).map { "v\($0)" }
            #expect(try await cli.run("produce", "t", stdin: Array(values.joined(separator: "\n").utf8)).status == 0)

            let all = try await cli.run("consume", "t", "--until-caught-up")
            #expect(all.status == 0)
            #expect(all.out.split(separator: "\n").map(String.init).sorted() == values.sorted())
            let some = try await cli.run("consume", "t", "--count", "4", "--format", "json")
            #expect(some.out.split(separator: "\n").count == 4)

            // A consumer at the end picks up a record published while it waits. (`--from 0` of an empty
            // topic, not `latest`: the record must be seen even if it lands before the first FETCH.)
            _ = try await cli.run("create", "empty")
            async let waiting = cli.run("consume", "empty", "--from", "0", "--count", "1")
            let client = try await broker.client()
            try await eventually { try await client.stats()["connections"] ?? 0 >= 2 }
            _ = try await client.publish(topic: "empty", value: "late")
            #expect(try await waiting.out == "late\n")
            await client.close()
        }
    }

    @Test("tail prints replayed and pushed records and stops after --count")
    func tail() async throws {
        try await withTestBroker { broker in
            let cli = try SpoolCLI(port: broker.port)
            _ = try await cli.run("create", "t", "--partitions", "2")
            _ = try await cli.run("produce", "t", "--partition", "0", "first")

            async let tailing = cli.run("tail", "t", "--from", "earliest", "--count", "2", "--format", "msg")
            let client = try await broker.client()
            try await eventually { try await client.stats()["connections"] ?? 0 >= 2 }
            _ = try await client.publish(topic: "t", value: "second", partition: 1)
            let result = try await tailing
            #expect(result.status == 0)
            #expect(result.out.contains("MSG t 0 0 ") && result.out.contains(" - 5\nfirst\n"))
            #expect(result.out.contains("MSG t 1 0 ") && result.out.contains(" - 6\nsecond\n"))
            await client.close()
        }
    }

    // MARK: ping, stats, --server and SPOOL_SERVER

    @Test("ping and stats; the address may come from SPOOL_SERVER")
    func pingAndStats() async throws {
        try await withTestBroker { broker in
            let cli = try SpoolCLI(port: broker.port)
            let ping = try await cli.run("ping")
            #expect(ping.status == 0 && ping.out.hasPrefix("PONG from 127.0.0.1:\(broker.port) in "))
            let stats = try await cli.run("stats")
            #expect(stats.out.split(separator: "\n").contains { $0.hasPrefix("topics ") })

            let fromEnvironment = try await cli.runWithoutServerFlag(["ping"], environment: ["SPOOL_SERVER": "127.0.0.1:\(broker.port)"])
            #expect(fromEnvironment.status == 0 && fromEnvironment.out.hasPrefix("PONG"))
        }
    }

    // MARK: Exit statuses

    @Test("the broker's ERR: exit 1 and 'spool: ERR <CODE> <message>' on standard error")
    func brokerErrors() async throws {
        try await withTestBroker { broker in
            let cli = try SpoolCLI(port: broker.port)
            let fetch = try await cli.run("fetch", "nope", "0")
            #expect(fetch.status == 1 && fetch.out.isEmpty)
            #expect(fetch.err.hasPrefix("spool: ERR UNKNOWN_TOPIC "))
            #expect(!fetch.err.contains("Fatal") && fetch.err.split(separator: "\n").count == 1)

            _ = try await cli.run("create", "t")
            let exists = try await cli.run("create", "t")
            #expect(exists.status == 1 && exists.err.hasPrefix("spool: ERR TOPIC_EXISTS "))
            let range = try await cli.run("fetch", "t", "0", "--from", "5")
            #expect(range.status == 1 && range.err.hasPrefix("spool: ERR OFFSET_OUT_OF_RANGE "))
            let produce = try await cli.run("produce", "nope", "a", "b")
            #expect(produce.status == 1)
            #expect(produce.err.hasPrefix("produced 0 records\nspool: ERR UNKNOWN_TOPIC "))
        }
    }

    @Test("usage errors exit 2 without contacting the broker")
    func usageErrors() async throws {
        let spool = try SpoolCLI(port: 1).executable  // no broker: none must be asked
        for arguments in [
            ["fetch", "t"], ["fetch", "t", "0", "--from", "soon"], ["create", "bad/name"],
            ["produce", "t", "--acks", "some", "x"], ["produce", "t", "--key", "base64:%%", "x"],
            ["frobnicate"],
        ] {
            let result = try await ChildProcess.run(spool, arguments + ["--server", "127.0.0.1:1"])
            #expect(result.status == 2, "spool \(arguments.joined(separator: " ")): \(result.err)")
            #expect(result.err.contains("Error:") || result.err.contains("Usage:"))
        }
        let badServer = try await ChildProcess.run(spool, ["ping", "--server", "nohost:"])
        #expect(badServer.status == 2 && badServer.err.contains("--server must be HOST:PORT"))
        let help = try await ChildProcess.run(spool, ["--help"])
        #expect(help.status == 0 && help.out.contains("Exit codes"))
    }

    @Test("nothing listening: exit 69 and a message naming the address")
    func unreachable() async throws {
        let closedPort = try await SpoolCLI.closedPort()
        let cli = try SpoolCLI(port: closedPort)
        let result = try await cli.run("topics")
        #expect(result.status == 69)
        #expect(result.err == "spool: cannot connect to 127.0.0.1:\(closedPort): connection refused\n")
        let fromEnvironment = try await cli.runWithoutServerFlag(["ping"], environment: ["SPOOL_SERVER": "127.0.0.1:\(closedPort)"])
        #expect(fromEnvironment.status == 69 && fromEnvironment.err.contains("127.0.0.1:\(closedPort)"))
    }
}

/// Runs the built `spool` binary with `--server 127.0.0.1:<port>`.
struct SpoolCLI {
    let executable: URL
    let port: Int

    init(port: Int) throws {
        self.executable = try #require(
            ChildProcess.builtProduct("spool"),
            "the spool binary is not built: run `swift build --product spool` (or add \"spool\" to the test target's dependencies)")
        self.port = port
    }

    func run(_ arguments: String..., stdin: [UInt8] = []) async throws -> ChildProcess.Result {
        try await run(arguments, stdin: stdin)
    }

    func run(_ arguments: [String], stdin: [UInt8] = []) async throws -> ChildProcess.Result {
        try await ChildProcess.run(executable, arguments + ["--server", "127.0.0.1:\(port)"], stdin: stdin)
    }

    func runWithoutServerFlag(_ arguments: [String], environment: [String: String]) async throws -> ChildProcess.Result {
        try await ChildProcess.run(executable, arguments, environment: environment)
    }

    /// A port on 127.0.0.1 that was free a moment ago and has no listener now.
    static func closedPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(channel.localAddress?.port)
        try await channel.close()
        return port
    }
}

/// A child process with files for its standard streams (no pipe can fill up and stall it) and a
/// deadline (it is killed past it).
enum ChildProcess {
    struct Result: Sendable {
        var status: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]
        var out: String { String(decoding: stdout, as: UTF8.self) }
        var err: String { String(decoding: stderr, as: UTF8.self) }
    }

    static func run(
        _ executable: URL, _ arguments: [String], stdin: [UInt8] = [], environment: [String: String] = [:],
        currentDirectory: String? = nil, timeout: Duration = .seconds(30)
    ) async throws -> Result {
        let folder = NSTemporaryDirectory() + "spool-child-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (inPath, outPath, errPath) = (folder + "/stdin", folder + "/stdout", folder + "/stderr")
        try Data(stdin).write(to: URL(fileURLWithPath: inPath))
        for path in [outPath, errPath] { _ = FileManager.default.createFile(atPath: path, contents: nil) }

        let process = SpawnedProcess()
        process.executableURL = executable
        process.arguments = arguments
        var variables = ProcessInfo.processInfo.environment
        variables["SPOOL_SERVER"] = nil  // only what the test says
        variables.merge(environment) { $1 }
        process.environment = variables
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        process.standardInput = FileHandle(forReadingAtPath: inPath)
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)

        let box = ProcessBox(process)
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            box.process.terminate()
        }
        defer { watchdog.cancel() }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            box.process.terminationHandler = { _ in continuation.resume() }
            do {
                try box.process.run()
            } catch {
                box.process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        if process.terminationReason == .uncaughtSignal {
            throw TimeoutError(what: "\(executable.lastPathComponent) \(arguments.joined(separator: " ")) (killed)")
        }
        return Result(
            status: process.terminationStatus,
            stdout: Array(try Data(contentsOf: URL(fileURLWithPath: outPath))),
            stderr: Array(try Data(contentsOf: URL(fileURLWithPath: errPath))))
    }

    /// A product built by SwiftPM for this test run: next to the running test binary first (so the
    /// right --scratch-path is used), then in the package's usual build folders.
    static func builtProduct(_ name: String) -> URL? {
        var folders: [URL] = []
        for start in [Bundle.main.executableURL, URL(fileURLWithPath: CommandLine.arguments[0])].compactMap({ $0 }) {
            var folder = start.deletingLastPathComponent()
            for _ in 0..<4 {
                folders.append(folder)
                folder = folder.deletingLastPathComponent()
            }
        }
        let root = packageRoot
        folders += [".build-cli", ".build"].map { root.appendingPathComponent($0).appendingPathComponent("debug") }
        return folders.map { $0.appendingPathComponent(name) }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// The package's root folder (this file is Tests/SpoolIntegrationTests/CLITests.swift).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
}

/// The process crosses into the watchdog task; it is only terminated there.
private final class ProcessBox: @unchecked Sendable {
    let process: SpawnedProcess
    init(_ process: SpawnedProcess) { self.process = process }
}
