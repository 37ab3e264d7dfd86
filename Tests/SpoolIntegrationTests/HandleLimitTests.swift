import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Running out of file handles", .timeLimit(.minutes(1)))
struct HandleLimitTests {
    /// Handles run out although the broker budgets them (something else took them): the test
    /// lowers a running spoold's limit to 64 (`prlimit --pid`), and clients beyond the handles
    /// left exhaust them.
    /// The broker must keep serving the connections it has, tell each client it cannot serve
    /// `ERR LIMIT_REACHED` (they used to wait in the backlog with no word), not spin on the failing
    /// accept (a network thread ran at 100 % CPU), and stop cleanly on SIGTERM (it crashed on a
    /// SwiftNIO assertion).
    @Test func atTheHandleLimitTheBrokerServesRefusesIdlesAndStopsCleanly() async throws {
        try await withSpoold { spoold in
            let lowered = SpawnedProcess()
            lowered.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
            lowered.arguments = ["--pid", "\(spoold.pid)", "--nofile=64:64"]
            try lowered.run()
            lowered.waitUntilExit()
            #expect(lowered.terminationStatus == 0)
            let existing = try RawSocket(port: spoold.port)
            try existing.send("CREATE handles\nPUB handles :first\n")
            #expect(try existing.readLine().hasPrefix("OK handles"))
            #expect(try existing.readLine() == "OK handles 0 0")
            let free = 64 - (try FileManager.default.contentsOfDirectory(atPath: "/proc/\(spoold.pid)/fd").count)
            #expect(free > 10, "spoold has only \(free) handles left")
            // Clients that fit (a margin either side: the broker may open or close a handle of
            // its own meanwhile), then clients that do not.
            var served: [RawSocket] = []
            for _ in 0..<(free - 3) {
                let socket = try RawSocket(port: spoold.port, timeoutSeconds: 5)
                try socket.send("PING\n")
                #expect(try socket.readLine() == "PONG")
                served.append(socket)
            }
            var between: [RawSocket] = []
            for _ in 0..<6 { between.append(try RawSocket(port: spoold.port, timeoutSeconds: 5)) }
            for _ in 0..<30 {
                let refused = try RawSocket(port: spoold.port, timeoutSeconds: 5)
                #expect(try refused.readLine() == "ERR LIMIT_REACHED the broker is out of file handles; try again later")
                #expect(refused.readsToEnd())
            }
            // Clients the kernel completes into the listen backlog at the limit.
            var crowd: [RawSocket] = []
            for _ in 0..<50 { crowd.append(try RawSocket(port: spoold.port, timeoutSeconds: 2)) }
            try existing.send("PING\n")
            #expect(try existing.readLine() == "PONG")

            // A CPU-time budget over a window, not a speed: a spinning accept loop burns the whole
            // window; a broker that backs off uses almost none of it.
            let before = try ProcessProbe.cpuSeconds(spoold.pid)
            try await Task.sleep(for: .seconds(2))
            let used = try ProcessProbe.cpuSeconds(spoold.pid) - before
            #expect(used < 0.25, "spoold used \(used) s of CPU in a 2 s window at the handle limit")

            try existing.send("PUB handles :still here\n")
            #expect(try existing.readLine() == "OK handles 0 1")
            #expect(spoold.terminate() == 0)
            served.removeAll()
            between.removeAll()
            crowd.removeAll()
        }
    }

    /// When the connection limit fits in the handles (as the broker budgets it), clients past the
    /// limit are accepted, told `ERR LIMIT_REACHED` and closed; they never hang.
    @Test func pastTheConnectionLimitClientsAreToldAndClosed() async throws {
        let launcher = ["/usr/bin/prlimit", "--nofile=128:128"]
        try await withSpoold(arguments: ["--max-connections", "8"], launcher: launcher) { spoold in
            var open: [RawSocket] = []
            for _ in 0..<8 {
                let socket = try RawSocket(port: spoold.port, timeoutSeconds: 5)
                try socket.send("PING\n")
                #expect(try socket.readLine() == "PONG")
                open.append(socket)
            }
            for _ in 0..<40 {
                let refused = try RawSocket(port: spoold.port, timeoutSeconds: 5)
                #expect(try refused.readLine().hasPrefix("ERR LIMIT_REACHED "))
                #expect(refused.readsToEnd())
            }
            try open[0].send("PING\n")
            #expect(try open[0].readLine() == "PONG")
            #expect(spoold.terminate() == 0)
        }
    }
}
