import ArgumentParser
import NIOCore
import SpoolClient
import SpoolCore
import SpoolProtocol

/// `spool produce <topic> [VALUE ...]` → pipelined `PUB`s (byte-counted, so any bytes go through).
struct ProduceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce",
        abstract: "Publish records: each VALUE argument, or the whole --file as one record, else each line of standard input.",
        discussion: """
            Lines from standard input are sent pipelined, --batch records (or 4 MiB) per flush; a line \
            ends at LF, and a CR before the LF is dropped. Use --file for a value with line ends or binary bytes.
            """)

    /// Most value bytes buffered before a flush, whatever `--batch` says.
    static let batchBytes = 4 << 20

    @OptionGroup var server: ServerOptions
    @OptionGroup var failover: FailoverOptions
    @Argument(help: "Topic name.") var topic: String
    @Argument(help: "Values, one record each. Without any, records are read from standard input.") var values: [String] = []
    @Option(help: ArgumentHelp("Record key, written as in the protocol: '-' is no key, 'base64:...' for any bytes.", valueName: "key"))
    var key: String?
    @Option(help: "Partition to write to (default: by key, else spread).") var partition: Int?
    @Option(help: "What the broker waits for before it answers: none, leader (fsynced), all (replicated).") var acks: Acks = .all
    @Option(help: "Send this whole file as one record (binary-safe).") var file: String?
    @Option(help: "Records per pipelined flush when reading standard input.") var batch = 1000
    @Flag(name: .shortAndLong, help: "Print '<partition> <offset>' for every record.") var verbose = false

    func validate() throws {
        try validateTopic(topic)
        try validateAtLeast(partition, 0, "--partition")
        try validateAtLeast(batch, 1, "--batch")
        if file != nil, !values.isEmpty { throw ValidationError("give VALUE arguments or --file, not both") }
        _ = try decodedKey()
    }

    private func decodedKey() throws -> [UInt8]? {
        guard let key else { return nil }
        do {
            return try KeyCodec.parse(Array(key.utf8))
        } catch {
            throw ValidationError("--key '\(key)' is not a key token: use '-' for none, or canonical 'base64:...'")
        }
    }

    func run() async throws {
        let key = try decodedKey()
        let record = { (value: ByteBuffer) in
            OutgoingRecord(topic: topic, key: key, value: value, partition: partition, acks: acks)
        }
        // Read the file before connecting: a missing file is not the broker's business.
        let fileValue = try file.map { ByteBuffer(bytes: try readWholeFile($0)) }
        var tally = ProduceTally()
        do {
            if let fileValue {
                try await server.withClient { try await send([record(fileValue)], $0, &tally) }
            } else if !values.isEmpty {
                try await server.withClient { try await send(values.map { record(ByteBuffer(string: $0)) }, $0, &tally) }
            } else {
                try await produceStandardInput(record, &tally)
            }
        } catch {
            reportSummary(tally)
            throw error
        }
        reportSummary(tally)
        if tally.unknown > 0 {
            throw CLIFailure(
                status: ExitStatus.unavailable,
                message: "\(tally.unknown) record\(tally.unknown == 1 ? "" : "s") of unknown outcome (sent, then the connection was lost before the reply; not resent)")
        }
    }

    /// Standard input, batch by batch, moving to another broker when the connection is lost. A
    /// record the broker acknowledged is never sent again. A record sent but not answered when the
    /// connection went may or may not be stored: it is counted and reported as of unknown outcome,
    /// and NOT resent, since resending could store it twice (there is no idempotent producer yet).
    /// A record the broker refused with `ERR SHUTTING_DOWN` was not stored (a stopping broker
    /// commits what it queued and takes nothing new), so it goes to the next broker. Reading goes
    /// on with the next line on the new connection.
    private func produceStandardInput(_ record: (ByteBuffer) -> OutgoingRecord, _ tally: inout ProduceTally) async throws {
        let reader = LineReader()
        var line = 0
        // Read (or refused) but not stored yet: kept across a switch. Reading standard input can
        // take long, and a broker that died meanwhile is noticed before the batch goes out, so
        // that batch goes to the next broker instead of being reported as unknown.
        var pending: [NumberedRecord] = []
        var pendingBytes = 0
        var atEnd = false
        try await withFailover(server, failover) { client in
            while true {
                if !atEnd, pending.count < batch, pendingBytes < Self.batchBytes {
                    if let text = try reader.nextLine() {
                        line += 1
                        pending.append(NumberedRecord(line: line, record: record(ByteBuffer(bytes: text))))
                        pendingBytes += text.count
                        continue
                    }
                    atEnd = true
                }
                guard client.isConnected else { throw SpoolClientError.connectionClosed }
                let sending = pending
                pending.removeAll(keepingCapacity: true)
                pendingBytes = 0
                let outcome = try await send(sending, client, &tally)
                // With -v, each batch's offsets show as soon as they are known (a pipeline reading
                // them, or a person, sees progress rather than a 64 KiB buffer at a time).
                if verbose { try standardOutput.flush() }
                if let loss = outcome.loss {
                    pending = outcome.refused
                    pendingBytes = pending.reduce(0) { $0 + $1.record.value.readableBytes }
                    throw loss
                }
                if atEnd, pending.isEmpty { return }
            }
        }
    }

    /// The one-shot forms (VALUE arguments, --file): a lost connection or SHUTTING_DOWN ends them.
    private func send(_ records: [OutgoingRecord], _ client: SpoolClient, _ tally: inout ProduceTally) async throws {
        let outcome = try await send(records.map { NumberedRecord(line: nil, record: $0) }, client, &tally)
        if let loss = outcome.loss { throw loss }
    }

    /// Sends `records` pipelined and counts the outcomes in `tally`. Every reply is read. Records
    /// sent but unanswered when the connection went are reported (by input line when numbered) as
    /// of unknown outcome. Returns the loss (the connection's end, or `SHUTTING_DOWN`) with the
    /// records refused by `SHUTTING_DOWN`, to be sent elsewhere; without a loss, throws the first
    /// `ERR`, if any (so reading standard input stops there).
    private func send(_ records: [NumberedRecord], _ client: SpoolClient, _ tally: inout ProduceTally) async throws -> BatchOutcome {
        var firstError: (any Error)?
        var outcome = BatchOutcome()
        var unknown: [NumberedRecord] = []
        for (numbered, result) in zip(records, try await client.publishResults(batch: records.map(\.record))) {
            switch result {
            case .success(let ack):
                tally.acknowledged += 1
                if verbose { try standardOutput.write("\(ack.partition) \(ack.offset.map(String.init) ?? "-")\n") }
            case .failure(let error as SpoolClientError) where error.errorCode == .shuttingDown:
                outcome.loss = outcome.loss ?? error
                outcome.refused.append(numbered)
            case .failure(let error) where isConnectionLoss(error):
                outcome.loss = outcome.loss ?? error
                unknown.append(numbered)
            case .failure(let error):
                firstError = firstError ?? error
            }
        }
        if !unknown.isEmpty {
            try standardOutput.flush()
            tally.unknown += unknown.count
            let lines = unknown.compactMap(\.line)
            let which = lines.isEmpty ? "" : " (input line\(lines.count == 1 ? "" : "s") \(Self.ranges(lines)))"
            writeStandardError(
                "spool: \(unknown.count) record\(unknown.count == 1 ? "" : "s")\(which) sent to \(client.address) "
                    + "got no reply before the connection was lost: outcome unknown, not resent")
        }
        if outcome.loss == nil, let firstError { throw firstError }
        return outcome
    }

    /// `1-3,7` for [1, 2, 3, 7] (sorted input).
    static func ranges(_ numbers: [Int]) -> String {
        var parts: [String] = []
        var index = 0
        while index < numbers.count {
            var end = index
            while end + 1 < numbers.count, numbers[end + 1] == numbers[end] + 1 { end += 1 }
            parts.append(end == index ? "\(numbers[index])" : "\(numbers[index])-\(numbers[end])")
            index = end + 1
        }
        return parts.joined(separator: ",")
    }

    private func reportSummary(_ tally: ProduceTally) {
        if !verbose {
            writeStandardError("produced \(tally.acknowledged) record\(tally.acknowledged == 1 ? "" : "s")")
        }
    }
}

/// A record to produce and its line of standard input (nil for VALUE arguments and --file).
struct NumberedRecord {
    var line: Int?
    var record: OutgoingRecord
}

/// What ended a batch early: the connection's loss (or `SHUTTING_DOWN`), and the records the
/// broker refused with `SHUTTING_DOWN`, which it did not store.
struct BatchOutcome {
    var loss: (any Error)?
    var refused: [NumberedRecord] = []
}

/// What became of the records `produce` sent.
struct ProduceTally {
    /// Answered `OK`.
    var acknowledged = 0
    /// Sent, then the connection was lost before the reply: maybe stored, maybe not.
    var unknown = 0
}
