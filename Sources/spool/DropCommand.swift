import ArgumentParser

/// `spool drop <topic>` → `DROP`.
struct DropCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "drop", abstract: "Delete a topic and all its records.")

    @OptionGroup var server: ServerOptions
    @Argument(help: "Topic name.") var topic: String

    func validate() throws { try validateTopic(topic) }

    func run() async throws {
        try await server.withClient { try await $0.dropTopic(topic) }
        try standardOutput.write("dropped \(topic)\n")
    }
}
