import SpoolClient
import SpoolCore

/// `spool consume <topic> --group <g>`: a group member that prints its partitions' records and
/// commits (`commit=manual`) the offset after the last record it printed, so the group never
/// counts a record as consumed that was only buffered in this process.
///
/// Commits go out every `commitEvery` records or `commitInterval`, whichever comes first (checked
/// as records arrive), and on `--count`'s end. After a lost connection it joins the group again on
/// another broker; the group resumes at its committed offsets, and records this process printed
/// since (delivered again) are dropped, so nothing is printed twice by one process. Records
/// printed but not committed when the process ends are delivered again to the group's next
/// owner: at least once, as for any group member.
struct GroupConsumer {
    static let commitEvery = 500
    static let commitInterval: Duration = .seconds(1)

    var command: ConsumeCommand
    var group: String

    func run() async throws {
        // Across sessions: the next offset this process would print, per partition.
        var next: [PartitionID: Offset] = [:]
        var printed = 0
        try await withFailover(command.server, command.failover) { client in
            // Only what this session printed is committed: a partition that was another member's
            // while this one was away may have a later commit, which must not go back.
            var printedHere: [PartitionID: Offset] = [:]
            var committed: [PartitionID: Offset] = [:]
            try await client.subscribe(topics: [command.topic], group: group, from: command.from, autoCommit: false)
            var sinceCommit = 0
            var lastCommit = ContinuousClock.now
            for await message in client.deliveries {
                if let expected = next[message.partition], message.offset < expected { continue }
                try command.format.write(message, to: standardOutput)
                try standardOutput.flush()
                next[message.partition] = Offset(message.offset.rawValue + 1)
                printedHere[message.partition] = next[message.partition]
                printed += 1
                sinceCommit += 1
                let done = command.count.map { printed >= $0 } ?? false
                if done || sinceCommit >= Self.commitEvery || ContinuousClock.now - lastCommit >= Self.commitInterval {
                    try await commit(printedHere, &committed, client)
                    sinceCommit = 0
                    lastCommit = .now
                }
                if done { return }
            }
            throw SpoolClientError.connectionClosed
        }
    }

    /// Commits every partition whose printed position moved. A partition that moved to another
    /// member meanwhile answers `NOT_ASSIGNED`: its new owner starts at the last commit.
    private func commit(_ next: [PartitionID: Offset], _ committed: inout [PartitionID: Offset], _ client: SpoolClient) async throws {
        for (partition, offset) in next.sorted(by: { $0.key < $1.key }) where committed[partition] != offset {
            do {
                try await client.commit(topic: command.topic, partition: Int(partition.rawValue), offset: offset.rawValue)
                committed[partition] = offset
            } catch let error as SpoolClientError where error.errorCode == .notAssigned {
                continue
            }
        }
    }
}
