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
    @Argument(help: "Topic name.") var topic: String
    @Argument(help: "Values, one record each. Without any, records are read from standard input.") var values: [String] = []
    @Option(help: ArgumentHelp("Record key, written as in the protocol: '-' is no key, 'base64:...' for any bytes.", valueName: "key"))
    var key: String?
    @Option(help: "Partition to write to (default: by key, else spread).") var partition: Int?
    @Option(help: "What the broker waits for before it answers: none, leader (fsynced), all (replicated).") var acks: Acks = .leader
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
        var produced = 0
        do {
            try await server.withClient { client in
                if let fileValue {
                    try await send([record(fileValue)], client, &produced)
                } else if !values.isEmpty {
                    try await send(values.map { record(ByteBuffer(string: $0)) }, client, &produced)
                } else {
                    let reader = LineReader()
                    var pending: [OutgoingRecord] = []
                    var pendingBytes = 0
                    while let line = try reader.nextLine() {
                        pending.append(record(ByteBuffer(bytes: line)))
                        pendingBytes += line.count
                        if pending.count >= batch || pendingBytes >= Self.batchBytes {
                            try await send(pending, client, &produced)
                            pending.removeAll(keepingCapacity: true)
                            pendingBytes = 0
                        }
                    }
                    try await send(pending, client, &produced)
                }
            }
        } catch {
            reportSummary(produced)
            throw error
        }
        reportSummary(produced)
    }

    /// Sends `records` pipelined and adds the acknowledged ones to `acknowledged`. Every reply is
    /// read; then the first `ERR`, if any, is thrown (so reading standard input stops there).
    private func send(_ records: [OutgoingRecord], _ client: SpoolClient, _ acknowledged: inout Int) async throws {
        var firstError: (any Error)?
        for result in try await client.publishResults(batch: records) {
            switch result {
            case .success(let ack):
                acknowledged += 1
                if verbose { try standardOutput.write("\(ack.partition) \(ack.offset.map(String.init) ?? "-")\n") }
            case .failure(let error):
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
    }

    private func reportSummary(_ produced: Int) {
        if !verbose {
            writeStandardError("produced \(produced) record\(produced == 1 ? "" : "s")")
        }
    }
}
