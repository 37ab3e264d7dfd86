import ArgumentParser

/// `spool describe <topic>` → `DESCRIBE`, as a table with a total row.
struct DescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe", abstract: "Show a topic's partitions: offsets, record counts, bytes on disk.")

    @OptionGroup var server: ServerOptions
    @Argument(help: "Topic name.") var topic: String

    func validate() throws { try validateTopic(topic) }

    func run() async throws {
        let partitions = try await server.withClient { try await $0.describe(topic) }
        var rows = [["PARTITION", "LOW", "HIGH", "RECORDS", "BYTES"]]
        rows += partitions.map { [String($0.partition), String($0.low), String($0.high), String($0.records), String($0.bytes)] }
        rows.append(["total", "", "", String(partitions.map(\.records).reduce(0, +)), String(partitions.map(\.bytes).reduce(0, +))])
        try standardOutput.write("topic \(topic): \(partitions.count) partition\(partitions.count == 1 ? "" : "s")\n")
        try standardOutput.write(TextTable(rows: rows).render())
    }
}
