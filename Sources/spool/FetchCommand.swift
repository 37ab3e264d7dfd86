import ArgumentParser
import SpoolCore

/// `spool fetch <topic> <partition>` → `FETCH` until caught up (or `--max` records).
struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Print a partition's records, from --from up to the end (or --max records).",
        discussion: """
            Sends FETCH repeatedly until it reaches the partition's high watermark. With --wait, \
            the first FETCH waits up to that long when no record is there yet (e.g. --from latest).
            """)

    @OptionGroup var server: ServerOptions
    @Argument(help: "Topic name.") var topic: String
    @Argument(help: "Partition number.") var partition: Int
    @Option(help: "Where to start: earliest, latest or an offset.") var from: StartPosition = .earliest
    @Option(help: "Most records to print.") var max: Int?
    @Option(help: ArgumentHelp("Milliseconds to wait for a first record when none is there yet.", valueName: "ms"))
    var wait: Int64 = 0
    @Option(help: "Output: value (one value per line), msg (MSG header + value), json (one object per line).")
    var format: RecordFormat = .value

    func validate() throws {
        try validateTopic(topic)
        try validateAtLeast(partition, 0, "<partition>")
        try validateAtLeast(max, 1, "--max")
        try validateAtLeast(wait, 0, "--wait")
    }

    func run() async throws {
        try await server.withClient { client in
            var position = from
            var printed = 0
            while max.map({ printed < $0 }) ?? true {
                let batch = try await client.fetch(
                    topic: topic, partition: partition, from: position, max: max.map { $0 - printed },
                    waitMs: printed == 0 ? wait : 0)
                for message in batch.messages { try format.write(message, to: standardOutput) }
                printed += batch.messages.count
                position = .offset(Offset(batch.next))
                if batch.messages.isEmpty || batch.next >= batch.high { break }
            }
        }
    }
}
