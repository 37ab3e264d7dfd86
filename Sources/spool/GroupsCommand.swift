import ArgumentParser

/// `spool groups` → `GROUPS`; `spool group <g>` → `GROUP <g>`, as tables.
struct GroupsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "groups", abstract: "List consumer groups.")

    @OptionGroup var server: ServerOptions

    func run() async throws {
        let groups = try await server.withClient { try await $0.groups() }
        let rows = groups.keys.sorted().map { name in [name, String(groups[name]!.generation), String(groups[name]!.members)] }
        try standardOutput.write(TextTable(rows: [["GROUP", "GENERATION", "MEMBERS"]] + rows).render())
    }
}

struct GroupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "group", abstract: "Show a consumer group: members, owners, committed offsets and lag.")

    @OptionGroup var server: ServerOptions
    @Argument(help: "The group.") var group: String

    func run() async throws {
        let description = try await server.withClient { try await $0.describeGroup(group) }
        var members = description.members.keys.sorted().map { [$0, description.members[$0]!.joined(separator: ",")] }
        if members.isEmpty { members = [["-", "(no live members)"]] }
        try standardOutput.write("generation \(description.generation)\n")
        try standardOutput.write(TextTable(rows: [["MEMBER", "PARTITIONS"]] + members).render())
        let lag = description.lag.map { row in
            [
                row.topic, String(row.partition), row.owner ?? "-", row.committed.map(String.init) ?? "-", String(row.end),
                String(row.lagRecords), String(row.lagMs),
            ]
        }
        try standardOutput.write(
            TextTable(rows: [["TOPIC", "PARTITION", "OWNER", "COMMITTED", "END", "LAG", "LAG_MS"]] + lag).render())
    }
}
