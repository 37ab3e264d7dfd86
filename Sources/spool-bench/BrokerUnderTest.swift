import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers

/// The broker the benchmark talks to: one it started (`--spawn`, so it can read the broker's
/// memory from /proc) or one already running (`--server`).
final class BrokerUnderTest: @unchecked Sendable {  // process is set once in init
    let host: String
    let port: Int
    /// The broker's pid when known (spawned, or `--broker-pid`), for memory sampling.
    let pid: Int32?
    /// A folder on the broker's file system for the raw SQLite reference (same disk, same fsync).
    let scratchDirectory: String
    private let process: Process?
    private let ownedDirectory: String?

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(host: String, port: Int, pid: Int32?, scratchDirectory: String) {
        self.host = host
        self.port = port
        self.pid = pid
        self.scratchDirectory = scratchDirectory
        self.process = nil
        self.ownedDirectory = nil
    }

    /// Starts `binary` on 127.0.0.1 with a free port and a fresh data folder under `parent`, and
    /// waits (at most 30 s) for its `spoold listening on 127.0.0.1:PORT ...` line.
    convenience init(spawning binary: String, parent: String, extraArguments: [String]) throws {
        let directory = parent + "/spool-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        do {
            try self.init(spawning: binary, dataDirectory: directory + "/data", listen: "127.0.0.1:0", extraArguments: extraArguments, owning: directory)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// Starts `binary` on `dataDirectory` (kept when it stops unless `owning` names a folder to
    /// remove), listening on `listen`, and waits (at most 30 s) for its listening line.
    init(spawning binary: String, dataDirectory: String, listen: String, extraArguments: [String], owning: String? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--listen", listen, "--data-dir", dataDirectory, "--log-level", "warning"] + extraArguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        let handle = output.fileHandleForReading
        let deadline = Date().addingTimeInterval(30)
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) && Date() < deadline && process.isRunning {
            // read(2), not `availableData`, which traps when a signal (a child's SIGCHLD) interrupts it.
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            line.append(contentsOf: chunk[..<n])
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: #"listening on 127\.0\.0\.1:(\d+)"#, options: .regularExpression),
            let port = Int(text[range].split(separator: ":").last ?? "")
        else {
            process.terminate()
            throw Failure(description: "spoold did not print its listening line (got: \(text))")
        }
        self.host = "127.0.0.1"
        self.port = port
        self.pid = process.processIdentifier
        self.scratchDirectory = owning ?? dataDirectory
        self.process = process
        self.ownedDirectory = owning
    }

    /// SIGKILL, and waits for the process to be gone (a failover measurement's fault).
    func kill() {
        guard let process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Stops a spawned broker (SIGTERM, then SIGKILL after 20 s) and removes its data folder.
    func stop() {
        if let process, process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(20)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        if let ownedDirectory { try? FileManager.default.removeItem(atPath: ownedDirectory) }
    }

    /// VmRSS and VmHWM (peak) of the broker in MB (10^6 bytes), from /proc/<pid>/status.
    func memory() -> (rssMB: Double, peakMB: Double)? {
        guard let pid, let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        var rss: Double?
        var peak: Double?
        for line in status.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let kib = Double(parts[1]) else { continue }
            if parts[0] == "VmRSS:" { rss = kib * 1024 / 1e6 }
            if parts[0] == "VmHWM:" { peak = kib * 1024 / 1e6 }
        }
        guard let rss, let peak else { return nil }
        return (rss, peak)
    }
}

/// Samples the broker's resident memory every 50 ms while a phase runs and keeps the maximum.
final class MemorySampler: Sendable {
    private let broker: BrokerUnderTest
    private let state = NIOLockedValueBox<(maxMB: Double, running: Bool)>((0, true))

    init(_ broker: BrokerUnderTest) {
        self.broker = broker
        guard broker.pid != nil else { return }
        Thread.detachNewThread { [self] in
            while state.withLockedValue({ $0.running }) {
                if let (rss, _) = broker.memory() {
                    state.withLockedValue { $0.maxMB = max($0.maxMB, rss) }
                }
                usleep(50_000)
            }
        }
    }

    /// Stops sampling; the largest RSS seen (MB), or nil when the broker's pid is unknown.
    func stop() -> Double? {
        let maxMB = state.withLockedValue { state -> Double in
            state.running = false
            return state.maxMB
        }
        guard broker.pid != nil else { return nil }
        return max(maxMB, broker.memory()?.rssMB ?? 0)
    }
}
