import ArgumentParser

/// `spool topics` → `TOPICS`, as a table (`--names` for one name per line, for scripts).
struct TopicsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "topics", abstract: "List topics.")

    @OptionGroup var server: ServerOptions
    @Flag(help: "Print only the names, one per line.") var names = false

    func run() async throws {
        let topics = try await server.withClient { try await $0.topics() }
        if names {
            for topic in topics { try standardOutput.write(topic.name + "\n") }
        } else if !topics.isEmpty {
            let rows = [["TOPIC", "PARTITIONS"]] + topics.map { [$0.name, String($0.partitions)] }
            try standardOutput.write(TextTable(rows: rows).render())
        }
    }
}
