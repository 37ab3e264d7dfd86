import ArgumentParser
import SpoolClient
import SpoolCore

/// `spool tail <topic>` → `SUB`, printing pushed records until Ctrl-C or `--count` records.
struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Subscribe to every partition of a topic and print records as they arrive.",
        discussion: "Runs until Ctrl-C, or until --count records were printed. Output is flushed after every record.")

    @OptionGroup var server: ServerOptions
    @Argument(help: "Topic name.") var topic: String
    @Option(help: "Where to start in every partition: earliest, latest or an offset.") var from: StartPosition = .latest
    @Option(help: "Stop after this many records.") var count: Int?
    @Option(help: "Output: value, msg or json (see 'spool fetch --help').") var format: RecordFormat = .value

    func validate() throws {
        try validateTopic(topic)
        try validateAtLeast(count, 1, "--count")
    }

    func run() async throws {
        try await server.withClient { client in
            try await client.subscribe(topic: topic, from: from)
            var printed = 0
            for await message in client.deliveries {
                try format.write(message, to: standardOutput)
                try standardOutput.flush()
                printed += 1
                if let count, printed >= count { return }
            }
            // The stream ends only when the connection does.
            throw SpoolClientError.connectionClosed
        }
    }
}
