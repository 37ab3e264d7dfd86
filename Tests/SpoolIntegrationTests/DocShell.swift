import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Runs the shell commands that README.md and examples/ show, the way a reader types them: with
/// bash, in a folder laid out like the repository's root (`examples/` there, the broker's data in
/// `./spool-data` as `swift run spoold` keeps it), the built `spool` on PATH and `SPOOL_SERVER`
/// naming this test's broker. Commands are taken from the documents, so they cannot drift.
final class DocShell: Sendable {
    let folder: String
    let broker: TestBroker
    let environment: [String: String]
    private let launched = Mutex<[BackgroundCommand]>([])

    static let bash = URL(fileURLWithPath: "/bin/bash")

    /// Runs `body` with a fresh shell, and stops everything it started and removes its folder
    /// afterwards, also when `body` throws (a failed `#require`, a timeout).
    static func with(_ body: (DocShell) async throws -> Void) async throws {
        try await withTemporaryFolder { folder in
            try FileManager.default.createDirectory(atPath: folder + "/spool-data", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                atPath: folder + "/examples", withDestinationPath: ChildProcess.packageRoot.appendingPathComponent("examples").path)
            let spool = try #require(ChildProcess.builtProduct("spool"), "the spool binary is built by swift test")
            try await withTestBroker(on: folder + "/spool-data") { broker in
                let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
                let environment = ["PATH": spool.deletingLastPathComponent().path + ":" + path, "SPOOL_SERVER": "127.0.0.1:\(broker.port)"]
                let shell = DocShell(folder: folder, broker: broker, environment: environment)
                // Before the broker stops, so no command is left talking to it.
                defer { shell.stopLaunched() }
                try await body(shell)
            }
        }
    }

    private init(folder: String, broker: TestBroker, environment: [String: String]) {
        self.folder = folder
        self.broker = broker
        self.environment = environment
    }

    /// Runs `line` to its end (bounded by ChildProcess's deadline).
    func run(_ line: String, stdin: [UInt8] = []) async throws -> ChildProcess.Result {
        try await ChildProcess.run(Self.bash, ["-c", line], stdin: stdin, environment: environment, currentDirectory: folder)
    }

    /// Starts `line` (see `BackgroundCommand`) as if in a terminal of its own (in its own process group, so its whole
    /// pipeline gets Ctrl-C's SIGINT or is stopped together); its output goes to files.
    func launch(_ line: String) throws -> BackgroundCommand {
        let command = try BackgroundCommand(line: line, shell: self)
        launched.withLock { $0.append(command) }
        return command
    }

    /// Stops what it launched.
    private func stopLaunched() {
        for command in launched.withLock({ $0 }) { command.stop() }
    }
}
