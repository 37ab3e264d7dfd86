import ArgumentParser

/// `spool offsets <topic> <partition> [--time MS]` → `OFFSETS`.
struct OffsetsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "offsets",
        abstract: "Show a partition's earliest and latest offsets, or the first offset at a time.",
        discussion: "Prints 'earliest=E latest=L', plus ' time=T offset=O' with --time (O is the first offset whose timestamp is >= T, or latest).")

    @OptionGroup var server: ServerOptions
    @Argument(help: "Topic name.") var topic: String
    @Argument(help: "Partition number.") var partition: Int
    @Option(help: "A time in milliseconds since the Unix epoch.") var time: Int64?

    func validate() throws {
        try validateTopic(topic)
        try validateAtLeast(partition, 0, "<partition>")
        try validateAtLeast(time, 0, "--time")
    }

    func run() async throws {
        let offsets = try await server.withClient { try await $0.offsets(topic: topic, partition: partition, time: time) }
        var line = "earliest=\(offsets.earliest) latest=\(offsets.latest)"
        if let time { line += " time=\(time) offset=\(offsets.atTime ?? offsets.latest)" }
        try standardOutput.write(line + "\n")
    }
}
