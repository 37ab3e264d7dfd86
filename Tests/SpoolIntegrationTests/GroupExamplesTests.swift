import Foundation
import SpoolClient
import Testing

/// Runs examples/python/group_consumer.py the way examples/groups.md does.
@Suite("Group examples", .timeLimit(.minutes(1)))
struct GroupExamplesTests {
    static let script = ExamplesTests.pythonFolder.appendingPathComponent("group_consumer.py").path

    /// Starts the example; returns the process and the file its output goes to.
    func start(_ arguments: [String]) throws -> (Process, URL) {
        let output = URL(fileURLWithPath: NSTemporaryDirectory() + "group-example-\(UUID().uuidString).txt")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script] + arguments
        process.standardOutput = try FileHandle(forWritingTo: output)
        try process.run()
        return (process, output)
    }

    func lines(_ file: URL) -> [String] {
        (try? String(contentsOf: file, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
    }

    @Test func aWorkerPoolSharesTheWorkAndTwoGroupsEachGetEverything() async throws {
        let broker = try await TestBroker.start()
        let admin = try await broker.client()
        try await admin.createTopic("jobs", partitions: 4)
        let port = String(broker.port)
        var workers: [(Process, URL)] = []
        for name in ["w1", "w2"] {
            workers.append(try start(["--port", port, "--topic", "jobs", "--group", "workers", "--name", "\(name) "]))
        }
        let audit = try start(["--port", port, "--topic", "jobs", "--group", "audit", "--count", "200"])
        defer { for (process, _) in workers + [audit] where process.isRunning { process.terminate() } }
        try await eventually("both workers to be assigned two partitions") {
            try await admin.describeGroup("workers").members.values.map(\.count).sorted() == [2, 2]
        }
        _ = try await admin.publish(batch: (0..<200).map { OutgoingRecord(topic: "jobs", value: "job-\($0)") })
        try await eventually(timeout: .seconds(20), "the pool to print all 200 and audit to finish") {
            let printed = workers.flatMap { self.lines($0.1) }.filter { $0.contains(" job-") }
            return Set(printed.map { $0.split(separator: " ").last! }).count == 200 && !audit.0.isRunning
        }
        #expect(audit.0.terminationStatus == 0)
        #expect(lines(audit.1).filter { $0.contains(" job-") }.count == 200)
        // Each worker printed only its own partitions.
        let w1 = Set(lines(workers[0].1).filter { $0.contains(" job-") }.map { $0.split(separator: " ")[2] })
        let w2 = Set(lines(workers[1].1).filter { $0.contains(" job-") }.map { $0.split(separator: " ")[2] })
        #expect(w1.isDisjoint(with: w2) && w1.count == 2 && w2.count == 2)
        await admin.close()
        await broker.stopAndRemove()
    }
}
