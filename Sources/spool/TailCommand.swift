import ArgumentParser
import SpoolClient
import SpoolCore

/// `spool tail <topic>` → `SUB`, printing pushed records until Ctrl-C or `--count` records.
struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Subscribe to every partition of a topic and print records as they arrive.",
        discussion: """
            Runs until Ctrl-C, or until --count records were printed. Output is flushed after every record. \
            When the connection is lost, tail moves to another --server address and subscribes again \
            from the record after the last one printed in each partition: no record twice, none skipped.
            """)

    @OptionGroup var server: ServerOptions
    @OptionGroup var failover: FailoverOptions
    @Argument(help: "Topic name.") var topic: String
    @Option(help: "Where to start in every partition: earliest, latest or an offset.") var from: StartPosition = .latest
    @Option(help: "Stop after this many records.") var count: Int?
    @Option(help: "Output: value, msg or json (see 'spool fetch --help').") var format: RecordFormat = .value

    func validate() throws {
        try validateTopic(topic)
        try validateAtLeast(count, 1, "--count")
    }

    func run() async throws {
        var positions: ResumePositions?
        var printed = 0
        try await withFailover(server, failover) { client in
            let start: StartPosition
            if let known = positions {
                start = known.subscribeFrom
            } else {
                // Where each partition starts, so a later session can resume partitions that
                // printed nothing yet. For `latest` that is the end before SUB: a record that lands
                // between the two is printed after a switch rather than lost.
                let partitions = try await client.describe(topic)
                positions = ResumePositions(partitions: partitions, from: from)
                start = from
            }
            try await client.subscribe(topic: topic, from: start)
            for await message in client.deliveries {
                guard positions!.accept(message) else { continue }
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
