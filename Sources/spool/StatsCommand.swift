import ArgumentParser

/// `spool stats` → `STATS`, one `name value` row per counter, in the broker's order.
struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Show the broker's counters.")

    @OptionGroup var server: ServerOptions

    func run() async throws {
        // The raw lines keep the broker's order (SpoolClient.stats() returns a dictionary).
        let lines = try await server.withClient { try await $0.send(line: "STATS", expectingBlock: true) }
        let rows = lines.compactMap { line -> [String]? in
            let parts = line.split(separator: " ")
            return parts.count == 3 && parts[0] == "STAT" ? [String(parts[1]), String(parts[2])] : nil
        }
        try standardOutput.write(TextTable(rows: rows).render())
    }
}
