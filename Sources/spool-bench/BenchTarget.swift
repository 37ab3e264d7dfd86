import ArgumentParser
import CSQLite
import Foundation
import NIOPosix

/// Which broker to load, and how the generator runs. Shared by every subcommand.
struct TargetOptions: ParsableArguments {
    @Option(help: "A running broker to load, HOST:PORT (memory is sampled only with --broker-pid).")
    var server: String?

    @Option(help: "Start this spoold binary on 127.0.0.1 (free port, fresh data folder) and stop it afterwards.")
    var spawn: String?

    @Option(parsing: .unconditionalSingleValue, help: "An extra argument for the spawned spoold (repeatable), e.g. --spoold-arg=--storage-threads=4.")
    var spooldArg: [String] = []

    @Option(help: "The pid of the --server broker, to sample its resident memory.")
    var brokerPid: Int32?

    @Option(help: "Parent folder for the spawned broker's data and the raw SQLite files (use the disk you want measured).")
    var scratchDir: String?

    @Option(help: "Event-loop threads of the load generator.")
    var threads = 1

    @Option(help: "Longest any one phase may take, in seconds, before the run fails.")
    var phaseTimeout = 600

    func validate() throws {
        guard (server == nil) != (spawn == nil) else { throw ValidationError("give exactly one of --server HOST:PORT or --spawn PATH") }
        if let server, Self.split(server) == nil { throw ValidationError("--server must be HOST:PORT, got \(server)") }
        guard threads >= 1, phaseTimeout >= 1 else { throw ValidationError("--threads and --phase-timeout must be at least 1") }
    }

    static func split(_ address: String) -> (host: String, port: Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else { return nil }
        return (String(address[..<colon]), port)
    }

    static var defaultParent: String {
        var path = NSTemporaryDirectory()
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    var parentDirectory: String {
        var path = scratchDir ?? Self.defaultParent
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path
    }

    /// Runs `body` against the broker (spawned or given), then stops what was started.
    func run<T>(_ body: (Workloads) async throws -> T) async throws -> T {
        let broker: BrokerUnderTest
        if let spawn {
            broker = try BrokerUnderTest(spawning: spawn, parent: parentDirectory, extraArguments: spooldArg)
        } else {
            let (host, port) = Self.split(server!)!
            broker = BrokerUnderTest(host: host, port: port, pid: brokerPid, scratchDirectory: parentDirectory)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        do {
            let result = try await body(Workloads(broker: broker, group: group, phaseTimeout: .seconds(Int64(phaseTimeout))))
            try? await group.shutdownGracefully()
            broker.stop()
            return result
        } catch {
            try? await group.shutdownGracefully()
            broker.stop()
            throw error
        }
    }
}

/// The machine a run came from, printed with its figures (they mean little without it).
struct MachineInfo: Sendable, Codable {
    var cpu: String
    var cores: Int
    var memoryGB: Double
    var kernel: String
    var sqlite: String
    var loadAverageAtStart: String
    /// How idle CPUs wait (cpuidle driver, and guest halt polling in a VM): it decides what a
    /// thread wake-up costs, and so the one-record-per-transaction figures.
    var cpuIdle: String

    enum CodingKeys: String, CodingKey {
        case cpu, cores, kernel, sqlite
        case cpuIdle = "cpu_idle"
        case memoryGB = "memory_gb"
        case loadAverageAtStart = "load_average_at_start"
    }

    static func current() -> MachineInfo {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" } ?? "unknown"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let kib = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { Double($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let load = ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "").split(separator: " ").prefix(3).joined(separator: " ")
        return MachineInfo(
            cpu: model, cores: ProcessInfo.processInfo.activeProcessorCount, memoryGB: (kib * 1024 / 1e9 * 10).rounded() / 10,
            kernel: "Linux \(release)", sqlite: String(cString: sqlite3_libversion()), loadAverageAtStart: load, cpuIdle: cpuIdleText())
    }

    private static func cpuIdleText() -> String {
        func read(_ path: String) -> String? {
            (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var parts = [read("/sys/devices/system/cpu/cpuidle/current_driver").map { "cpuidle \($0)" } ?? "cpuidle unknown"]
        if let poll = read("/sys/module/haltpoll/parameters/guest_halt_poll_ns") { parts.append("guest_halt_poll_ns=\(poll)") }
        return parts.joined(separator: " ")
    }

    var text: String {
        "machine: \(cpu), \(cores) cores, \(memoryGB) GB RAM, \(kernel), SQLite \(sqlite), \(cpuIdle), load average at start \(loadAverageAtStart)"
    }
}

/// Prints `value` as one line of JSON (keys sorted), the line scripts read.
func printJSONLine<T: Encodable>(_ value: T) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    if let data = try? encoder.encode(value) {
        print(String(decoding: data, as: UTF8.self))
    }
}
