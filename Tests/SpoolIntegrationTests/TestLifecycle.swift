import Foundation
import SpoolCore

// The one family of lifecycle helpers for tests that start brokers. Each runs `body` and then
// stops what it started and removes what it made on every path: `body` returns, throws (a failed
// `#require`, a timeout, a cancelled test) or records a failed `#expect`. A test that starts a
// broker or a spoold any other way can leak a process (which, holding the test run's output,
// makes `swift test` hang after the test process ends) and a folder.
//
// - `withTestBroker`: a broker and server in this process.
// - `withSpoold`: the real spoold as a child process, with arguments, environment, a shell
//   prologue or a launcher; it dies with the test process (see `SpooldProcess`).
// - `withSpooldFolder`: one folder and any number of spoolds started on it one after another
//   (a restart on another port), every one killed and the folder removed at the end.
// - `withTemporaryFolder`: a folder that outlives several brokers, for restart and crash tests:
//   `withTemporaryFolder { folder in withSpoold(on: folder) {...}; withSpoold(on: folder) {...} }`.

/// Runs `body` with a fresh folder under the system's temporary folder and removes it afterwards.
func withTemporaryFolder<T>(_ body: (String) async throws -> T) async throws -> T {
    let folder = try TestBroker.makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: folder) }
    return try await body(folder)
}

/// Runs `body` with an in-process broker and stops it afterwards. Without `folder`, the broker
/// gets a fresh data folder that is removed afterwards; with `folder`, it opens that one, which
/// stays (for a restart on it; its owner removes it, usually `withTemporaryFolder`).
func withTestBroker<T>(
    limits: SpoolLimits = SpoolLimits(), on folder: String? = nil, _ body: (TestBroker) async throws -> T
) async throws -> T {
    guard let folder else {
        return try await withTemporaryFolder { try await withTestBroker(limits: limits, on: $0, body) }
    }
    let broker = try await TestBroker.start(limits: limits, dataDirectory: folder)
    return try await always(body: { try await body(broker) }, then: { await broker.stop() })
}

/// `withTestBroker` with limits changed from the defaults: `withTestBroker(limits: { $0.connections = 2 }) { ... }`.
func withTestBroker<T>(
    limits change: SpoolLimitsOverride, on folder: String? = nil, _ body: (TestBroker) async throws -> T
) async throws -> T {
    var limits = SpoolLimits()
    change(&limits)
    return try await withTestBroker(limits: limits, on: folder, body)
}

typealias SpoolLimitsOverride = (inout SpoolLimits) -> Void

/// Runs `body` with a real spoold (see `SpooldProcess.start` for `arguments`, `environment`,
/// `shell` and `launcher`) and stops it afterwards: SIGTERM, then SIGKILL if it has not exited in
/// time; nothing when `body` already stopped or killed it. Without `folder`, spoold gets a fresh
/// data folder (`prepare` runs on it first) that is removed afterwards; with `folder`, it opens
/// that one, which stays.
func withSpoold<T>(
    on folder: String? = nil, arguments: [String] = [], environment: [String: String] = [:], shell: String? = nil,
    launcher: [String] = [], prepare: (String) throws -> Void = { _ in }, _ body: (SpooldProcess) async throws -> T
) async throws -> T {
    guard let folder else {
        return try await withTemporaryFolder { folder in
            try await withSpoold(
                on: folder, arguments: arguments, environment: environment, shell: shell, launcher: launcher, prepare: prepare, body)
        }
    }
    try prepare(folder)
    let spoold = try SpooldProcess.start(
        dataDirectory: folder, extraArguments: arguments, environment: environment, shell: shell, launcher: launcher)
    defer { _ = spoold.terminate() }
    return try await body(spoold)
}

/// Runs `body` with a fresh data folder that is removed afterwards, and every spoold that
/// `body` starts on it through `start` killed, also when `body` throws.
func withSpooldFolder<T>(_ body: (_ folder: String, _ start: (_ port: Int?) throws -> SpooldProcess) async throws -> T) async throws -> T {
    let folder = try TestBroker.makeTemporaryDirectory()
    var started: [SpooldProcess] = []
    defer {
        for process in started { process.kill() }
        try? FileManager.default.removeItem(atPath: folder)
    }
    return try await body(folder) { port in
        let process = try SpooldProcess.start(
            dataDirectory: folder, extraArguments: port.map { ["--listen", "127.0.0.1:\($0)"] } ?? [])
        started.append(process)
        return process
    }
}

/// Runs `body`, then `cleanup` however `body` ended (an async `defer`), and returns or rethrows
/// what `body` did.
func always<T>(body: () async throws -> T, then cleanup: () async -> Void) async throws -> T {
    let result: Result<T, any Error>
    do {
        result = .success(try await body())
    } catch {
        result = .failure(error)
    }
    await cleanup()
    return try result.get()
}
