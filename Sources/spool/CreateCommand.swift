import ArgumentParser

/// `spool create <topic> [--partitions N]` → `CREATE`.
struct CreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a topic.")

    @OptionGroup var server: ServerOptions
    @Argument(help: "Topic name: 1 to 249 characters from [a-zA-Z0-9._-].") var topic: String
    @Option(help: "Number of partitions.") var partitions = 1

    func validate() throws {
        try validateTopic(topic)
        try validateAtLeast(partitions, 1, "--partitions")
    }

    func run() async throws {
        let reply = try await server.withClient { try await $0.createTopic(topic, partitions: partitions) }
        // "OK orders partitions=3 replication=1" → "created orders partitions=3 replication=1"
        try standardOutput.write("created " + reply.dropFirst(3) + "\n")
    }
}
