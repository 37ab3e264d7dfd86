import ArgumentParser
import SpoolClient
import SpoolCore

/// `spool consume <topic>` → a `FETCH` loop over every partition: a plain consumer without `SUB`;
/// with `--group`, a member of a consumer group (`SUB ... group=`).
struct ConsumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Read every partition of a topic with FETCH, round-robin, and print the records; or, with --group, as a group member.",
        discussion: """
            Each round fetches every partition once. When a round finds nothing new, the next round's \
            FETCHes wait (wait=) so an idle consumer costs nothing; a new record shows within about \
            --poll-ms. Stops after --count records, or with --until-caught-up once every partition \
            has been read up to its high watermark; otherwise runs until Ctrl-C. When the connection \
            is lost, consume moves to another --server address and continues from the next offset \
            of each partition. With --group it joins the group instead (its partitions, from the \
            group's committed offsets), commits what it printed, and joins again after a switch.
            """)

    @OptionGroup var server: ServerOptions
    @OptionGroup var failover: FailoverOptions
    @Argument(help: "Topic name.") var topic: String
    @Option(help: "Where to start in every partition: earliest, latest or an offset (with --group: earliest or latest, where the group has no commit).")
    var from: StartPosition = .earliest
    @Option(help: "Stop after this many records.") var count: Int?
    @Flag(help: "Stop once every partition has been read to its end.") var untilCaughtUp = false
    @Option(help: "Output: value, msg or json (see 'spool fetch --help').") var format: RecordFormat = .value
    @Option(help: ArgumentHelp("When idle, the longest wait for a new record, shared by the partitions.", valueName: "ms"))
    var pollMs: Int64 = 1000
    @Option(help: "Consume as a member of this consumer group.") var group: String?

    /// The shortest wait= of an idle round's FETCH, so many partitions do not poll in a busy loop.
    static let minimumWaitMs: Int64 = 10

    func validate() throws {
        try validateTopic(topic)
        try validateAtLeast(count, 1, "--count")
        try validateAtLeast(pollMs, 1, "--poll-ms")
        if let group {
            guard GroupName(group) != nil else { throw ValidationError("illegal group name '\(group)': group names follow the topic-name rule") }
            if untilCaughtUp { throw ValidationError("--until-caught-up cannot be used with --group") }
            if case .offset = from { throw ValidationError("with --group, --from is earliest or latest") }
        }
    }

    func run() async throws {
        if let group {
            try await GroupConsumer(command: self, group: group).run()
            return
        }
        // Kept across connections: a new one goes on from the next offset of each partition.
        var positions: [Int: StartPosition] = [:]
        var printed = 0
        try await withFailover(server, failover) { client in
            let partitions = try await client.describe(topic).map(\.partition)
            // FETCH runs alone on the broker, so a waiting FETCH holds up the next one: split the
            // idle wait between the partitions instead of waiting the whole time on each.
            let idleWaitMs = Swift.max(Self.minimumWaitMs, pollMs / Int64(Swift.max(1, partitions.count)))
            var idle = false
            while true {
                var caughtUp = true
                var found = 0
                for partition in partitions {
                    let batch = try await client.fetch(
                        topic: topic, partition: partition, from: positions[partition] ?? from,
                        max: count.map { $0 - printed }, waitMs: idle ? idleWaitMs : 0)
                    for message in batch.messages { try format.write(message, to: standardOutput) }
                    found += batch.messages.count
                    printed += batch.messages.count
                    positions[partition] = .offset(Offset(batch.next))
                    caughtUp = caughtUp && batch.next >= batch.high
                    if let count, printed >= count { return }
                }
                try standardOutput.flush()
                if untilCaughtUp, caughtUp { return }
                idle = found == 0
            }
        }
    }
}
