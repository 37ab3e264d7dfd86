import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// examples/cluster-3: start.sh starts three brokers in the background, stop.sh stops them.
@Suite("examples/cluster-3 scripts", .timeLimit(.minutes(2)))
struct ClusterExampleTests {
    static let folder = ChildProcess.packageRoot.appendingPathComponent("examples/cluster-3")

    /// Runs one of the scripts to its end (killed past `timeout`). The brokers it starts inherit
    /// the test thread's blocked signals, which does not stop stop.sh's SIGTERM: spoold takes
    /// signals through libdispatch, whose signal thread unblocks them.
    static func script(_ name: String, environment: [String: String], timeout: Duration = .seconds(60)) async throws -> ChildProcess.Result {
        try await ChildProcess.run(
            URL(fileURLWithPath: "/bin/bash"), [folder.appendingPathComponent(name).path], environment: environment, timeout: timeout)
    }

    /// The PIDs in the run folder's PID files.
    static func pids(_ run: String) -> [Int: Int32] {
        var pids: [Int: Int32] = [:]
        for n in 1...3 {
            if let text = try? String(contentsOfFile: "\(run)/n\(n).pid", encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                pids[n] = pid
            }
        }
        return pids
    }

    static func running(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return !stat.contains(") Z ")  // a zombie has exited
    }

    @Test("start.sh starts three brokers that see each other; one killed shows down on the others and start.sh <n> brings it back; stop.sh stops them")
    func startKillStop() async throws {
        let run = try TestBroker.makeTemporaryDirectory() + "/run"
        let clientBase = try FreePorts.consecutive(3)
        let peerBase = try FreePorts.consecutive(3)
        let spoold = try #require(ChildProcess.builtProduct("spoold"), "spoold is built by swift test")
        let environment = [
            "SPOOL_CLUSTER_DIR": run, "SPOOL_CLUSTER_PORT": "\(clientBase)", "SPOOL_CLUSTER_PEER_PORT": "\(peerBase)", "SPOOLD": spoold.path,
        ]
        var started: [Int: Int32] = [:]
        defer {
            // Whatever happened: nothing started here keeps running, and the folder goes.
            for pid in Set(started.values).union(Self.pids(run).values) where Self.running(pid) { kill(pid, SIGKILL) }
            try? FileManager.default.removeItem(atPath: (run as NSString).deletingLastPathComponent)
        }

        let start = try await Self.script("start.sh", environment: environment)
        started = Self.pids(run)
        #expect(start.status == 0, "\(start.out)\(start.err)")
        #expect(started.count == 3)
        #expect(start.out.contains("telnet 127.0.0.1 \(clientBase)"), "\(start.out)")
        for n in 1...3 {
            let log = (try? String(contentsOfFile: "\(run)/n\(n).log", encoding: .utf8)) ?? ""
            #expect(log.contains("spoold listening on 127.0.0.1:\(clientBase + n - 1)"), "\(log)")
        }

        let ports = (0..<3).map { clientBase + $0 }
        let everyoneUp = (1...3).map { MetadataBroker(id: $0, address: "127.0.0.1:\(ports[$0 - 1])", up: true) }
        for port in ports {
            try await eventually(timeout: .seconds(15), "every broker up on \(port)") { try metadataBrokers(port: port) == everyoneUp }
        }

        // A second start.sh while they run refuses, and starts nothing.
        let twice = try await Self.script("start.sh", environment: environment)
        #expect(twice.status == 1 && twice.err.contains("node 1 is already running"), "\(twice.err)")

        let victim = try #require(started[2])
        kill(victim, SIGKILL)
        var twoDown = everyoneUp
        twoDown[1].up = false
        for port in [ports[0], ports[2]] {
            try await eventually(timeout: .seconds(15), "node 2 down on \(port)") { try metadataBrokers(port: port) == twoDown }
        }

        // start.sh 2 brings the killed node back with its folder; the others see it up again.
        let again = try await Self.script("start.sh", environment: environment.merging(["SPOOL_CLUSTER_WAIT": "30"]) { $1 }, timeout: .seconds(60))
        #expect(again.status == 1 && again.err.contains("node 1 is already running"), "start.sh without nodes refuses while others run: \(again.err)")
        let restart = try await ChildProcess.run(
            URL(fileURLWithPath: "/bin/bash"), [Self.folder.appendingPathComponent("start.sh").path, "2"], environment: environment, timeout: .seconds(60))
        #expect(restart.status == 0 && restart.out.contains("node 2: clients 127.0.0.1:\(ports[1])"), "\(restart.out)\(restart.err)")
        started = Self.pids(run)
        for port in ports {
            try await eventually(timeout: .seconds(15), "node 2 up again on \(port)") { try metadataBrokers(port: port) == everyoneUp }
        }
        #expect(FileManager.default.fileExists(atPath: "\(run)/n2.log.1"), "the killed node's log is kept")

        let stop = try await Self.script("stop.sh", environment: environment)
        #expect(stop.status == 0, "\(stop.out)\(stop.err)")
        #expect((1...3).allSatisfy { stop.out.contains("node \($0) (pid \(started[$0]!)) stopped") }, "\(stop.out)")
        for (n, pid) in started { #expect(!Self.running(pid), "node \(n) still runs") }
        #expect(Self.pids(run).isEmpty, "stop.sh removes the PID files")
        // The graceful stop ran: each broker logged it.
        for n in 1...3 {
            let log = (try? String(contentsOfFile: "\(run)/n\(n).log", encoding: .utf8)) ?? ""
            #expect(log.contains("shutting down") && log.contains("stopped"), "\(log)")
        }
    }
}
