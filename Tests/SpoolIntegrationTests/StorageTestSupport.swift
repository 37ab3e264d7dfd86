import Foundation
import SpoolCore

/// Runs `body` with a broker on `directory` and stops it however `body` ends (the folder stays:
/// callers remove it with `defer`, after any restart).
func withBroker<T>(
    _ directory: String, limits: SpoolLimits = SpoolLimits(), _ body: (TestBroker) async throws -> T
) async throws -> T {
    let broker = try await TestBroker.start(limits: limits, dataDirectory: directory)
    do {
        let result = try await body(broker)
        await broker.stop()
        return result
    } catch {
        await broker.stop()
        throw error
    }
}

/// Runs `body` with a spawned spoold and stops it (SIGTERM, then SIGKILL) however `body` ends.
func withSpoold<T>(
    _ directory: String, arguments: [String] = [], shell: String? = nil, _ body: (SpooldProcess) async throws -> T
) async throws -> T {
    let spoold = try SpooldProcess.start(dataDirectory: directory, extraArguments: arguments, shell: shell)
    do {
        let result = try await body(spoold)
        _ = spoold.terminate()
        return result
    } catch {
        _ = spoold.terminate()
        throw error
    }
}

extension RawSocket {
    /// Sends one request line and reads the one-line reply.
    func ask(_ line: String) throws -> String {
        try send(line + "\n")
        return try readLine()
    }

    /// Sends one request line and reads lines up to and including the one starting with `end`
    /// (or a first-line `ERR`).
    func askBlock(_ line: String, until end: String = "END") throws -> [String] {
        try send(line + "\n")
        var lines: [String] = []
        while true {
            let reply = try readLine()
            lines.append(reply)
            if reply.hasPrefix(end) || (lines.count == 1 && reply.hasPrefix("ERR ")) { return lines }
        }
    }
}
