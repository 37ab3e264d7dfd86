import ArgumentParser

/// `spool-bench`: load generator and reference measurements for Spool (docs/performance.md).
///
/// Every subcommand prints a readable report and, as its last line, one JSON object for scripts.
@main
struct SpoolBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool-bench",
        abstract: "Measure a Spool broker over its protocol, against the raw SQLite limit of this machine.",
        discussion: "Build with -c release. docs/performance.md explains each figure and the published results.",
        subcommands: [ProduceCommand.self, ConsumeCommand.self, EndToEndCommand.self, SQLiteCommand.self, AllCommand.self, ClusterCommand.self])
}

/// Options of the records a producer sends.
struct ProduceOptions: ParsableArguments {
    @Option(help: "Records to publish.")
    var records = 500_000
    @Option(help: "Value size in bytes.")
    var valueBytes = 100
    @Option(help: "Distinct keys (k0, k1, ...); 0 publishes keyless records, spread round-robin.")
    var keys = 0
    @Option(help: "Partitions of the benchmark topic.")
    var partitions = 1
    @Option(help: "Producer connections.")
    var connections = 8
    @Option(help: "PUBs in flight per connection (pipelining depth; 1 = wait for each OK).")
    var depth = 1024
    @Option(help: "acks: none, leader or all.")
    var acks = "leader"
    @Option(help: "Keyless records: sticky (each connection sends to one partition, like Kafka's sticky partitioner) or broker (the broker's round-robin).")
    var spread = "sticky"

    func validate() throws {
        guard records >= 1, valueBytes >= 0, keys >= 0, partitions >= 1, connections >= 1, depth >= 1 else {
            throw ValidationError("counts must be positive")
        }
        guard ["none", "leader", "all"].contains(acks) else { throw ValidationError("--acks must be none, leader or all") }
        guard ["sticky", "broker"].contains(spread) else { throw ValidationError("--spread must be sticky or broker") }
    }

    var settings: Workloads.ProduceSettings {
        .init(
            records: records, valueBytes: valueBytes, keys: keys, partitions: partitions, connections: connections, depth: depth, acks: acks,
            sticky: spread == "sticky")
    }
}

struct ProduceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "produce", abstract: "Pipelined producers: records/s, MB/s, ack latency.")
    @OptionGroup var target: TargetOptions
    @OptionGroup var produce: ProduceOptions

    func run() async throws {
        let result = try await target.run { try await $0.produce(produce.settings) }
        print(result.text)
        printJSONLine(["bench": AnyEncodable("produce"), "result": AnyEncodable(result)])
    }
}

struct ConsumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume", abstract: "Catch-up reads from offset 0 of records published first (FETCH or SUB).")
    @OptionGroup var target: TargetOptions
    @Option(help: "Records to publish and then read back.")
    var records = 1_000_000
    @Option(help: "Value size in bytes.")
    var valueBytes = 100
    @Option(help: "Partitions of the benchmark topic (FETCH reads each on its own connection).")
    var partitions = 1
    @Option(help: "fetch, sub or both.")
    var mode = "both"
    @Option(help: "max= of each FETCH.")
    var fetchMax = 10_000

    func run() async throws {
        let modes = mode == "both" ? Workloads.ConsumeMode.allCases : [Workloads.ConsumeMode(rawValue: mode)].compactMap { $0 }
        guard !modes.isEmpty else { throw ValidationError("--mode must be fetch, sub or both") }
        let results = try await target.run { workloads in
            try await Suite.consume(
                workloads, records: records, valueBytes: valueBytes, partitions: partitions, modes: modes, fetchMax: fetchMax)
        }
        for result in results { print(result.text) }
        printJSONLine(["bench": AnyEncodable("consume"), "results": AnyEncodable(results)])
    }
}

struct EndToEndCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "e2e", abstract: "Latency from PUB to MSG on a live SUB, at a fixed publish rate.")
    @OptionGroup var target: TargetOptions
    @Option(help: "Records per second to publish.")
    var rate = 20_000
    @Option(help: "Seconds to publish for.")
    var seconds = 10.0
    @Option(help: "Value size in bytes (at least 20: the value carries its send time).")
    var valueBytes = 100
    @Option(help: "Partitions of the benchmark topic.")
    var partitions = 1
    @Option(help: "Most PUBs in flight; past it the producer falls behind its schedule (and the latency shows it).")
    var window = 1024
    @Option(help: "acks: none, leader or all.")
    var acks = "leader"

    func run() async throws {
        let settings = Workloads.EndToEndSettings(
            rate: Double(rate), records: max(1, Int(Double(rate) * seconds)), valueBytes: valueBytes, keys: 0, partitions: partitions,
            window: window, acks: acks)
        let result = try await target.run { try await $0.endToEnd(settings) }
        print(result.text)
        printJSONLine(["bench": AnyEncodable("e2e"), "result": AnyEncodable(result)])
    }
}

/// Options of the raw SQLite reference.
struct SQLiteOptions: ParsableArguments {
    @Option(help: "Transaction sizes in rows, comma-separated.")
    var sizes = "1,100,1000,10000"
    @Option(help: "Seconds to run each size for.")
    var sqliteSeconds = 3.0
    @Option(help: "Most rows per size.")
    var sqliteMaxRows = 3_000_000
    @Flag(
        inversion: .prefixedNo,
        help: "Also measure the loopback references: one-row commits behind a TCP round trip (a minimal server, with and without a storage-thread hand-off).")
    var loopback = true

    /// The loopback references, each against the raw 1-row rate when it was measured.
    func loopbackResults(directory: String, valueBytes: Int, raw: [RawSQLiteReference.Result]) throws -> [LoopbackCommitReference.Result] {
        guard loopback else { return [] }
        let reference = LoopbackCommitReference(directory: directory, valueBytes: valueBytes, seconds: sqliteSeconds, maxRecords: sqliteMaxRows)
        let rawRate = raw.first { $0.transactionRows == 1 }?.rowsPerSecond
        return try LoopbackCommitReference.Variant.allCases.map { try reference.run($0, rawRate: rawRate) }
    }

    var sizeList: [Int] { sizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 } }
}

struct SQLiteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sqlite",
        abstract: "The raw SQLite limit (the broker's rows, one prepared statement, WAL, synchronous=FULL) and the loopback references.")
    @OptionGroup var options: SQLiteOptions
    @Option(help: "Folder for the database files (on the disk to measure).")
    var dir: String?
    @Option(help: "Value size in bytes.")
    var valueBytes = 100
    @Option(help: "Distinct keys; 0 = keyless.")
    var keys = 0

    func run() async throws {
        let reference = RawSQLiteReference(
            directory: dir ?? TargetOptions.defaultParent, valueBytes: valueBytes, keys: keys,
            secondsPerSize: options.sqliteSeconds, maxRows: options.sqliteMaxRows)
        let results = try options.sizeList.map { try reference.run(transactionRows: $0) }
        let loopback = try options.loopbackResults(directory: dir ?? TargetOptions.defaultParent, valueBytes: valueBytes, raw: results)
        print(MachineInfo.current().text)
        for result in results { print(Suite.text(result)) }
        for result in loopback { print(result.text) }
        printJSONLine(["bench": AnyEncodable("sqlite"), "results": AnyEncodable(results), "loopback": AnyEncodable(loopback)])
    }
}

/// Type erasure for the JSON line's top-level object.
struct AnyEncodable: Encodable {
    private let encodeValue: (Encoder) throws -> Void
    init<T: Encodable>(_ value: T) { encodeValue = value.encode }
    func encode(to encoder: Encoder) throws { try encodeValue(encoder) }
}
