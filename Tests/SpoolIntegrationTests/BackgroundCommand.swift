import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A command that could not be started as a terminal would start it.
struct DocShellError: Error, CustomStringConvertible {
    var what: String
    var description: String { what }
}

/// A command started by `DocShell.launch`, as if in its own terminal.
final class BackgroundCommand: @unchecked Sendable {  // the Process is only signalled and polled
    let line: String
    let process: SpawnedProcess
    private let outputPath: String
    private let errorPath: String

    init(line: String, shell: DocShell) throws {
        self.line = line
        let id = UUID().uuidString
        outputPath = shell.folder + "/out-\(id).txt"
        errorPath = shell.folder + "/err-\(id).txt"
        for path in [outputPath, errorPath] { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        process = SpawnedProcess()
        process.executableURL = DocShell.bash
        process.arguments = ["-c", line]
        var variables = ProcessInfo.processInfo.environment
        variables.merge(shell.environment) { $1 }
        process.environment = variables
        process.currentDirectoryURL = URL(fileURLWithPath: shell.folder)
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        process.standardOutput = FileHandle(forWritingAtPath: outputPath)
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        // With no signal blocked, as from a terminal (a `SpawnedProcess` always starts so): a
        // child that inherited the test threads' mask would never see the SIGINT a test sends.
        try process.run()
        // A `SpawnedProcess` starts in a process group of its own (group id = its pid), as a
        // terminal does for a pipeline: `interrupt` and `stop` signal the whole group.
        let group = getpgid(process.processIdentifier)
        guard group == process.processIdentifier || !process.isRunning else {
            stop()
            throw DocShellError(what: "`\(line)` does not run in a process group of its own (it is in \(group))")
        }
    }

    var out: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var err: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }
    var lines: [String] { out.split(separator: "\n").map(String.init) }

    /// Signals the command's process group, never group 0: `kill(0, ...)` (a process id of 0,
    /// negated) would signal the test run's own process group.
    private func signalGroup(_ signal: Int32) {
        let group = process.processIdentifier
        precondition(group > 0, "`\(line)` has no process id")
        kill(-group, signal)
    }

    /// Ctrl-C in its terminal: SIGINT to every process of the pipeline.
    func interrupt() {
        signalGroup(SIGINT)
    }

    /// Waits for the command to end; returns its exit status, or 128 + the signal that ended it
    /// (what a shell shows).
    func waitForExit(timeout: Duration = .seconds(10)) async throws -> Int32 {
        try await eventually(timeout: timeout, "`\(line)` to exit") { !self.process.isRunning }
        let status = process.terminationStatus
        return process.terminationReason == .uncaughtSignal ? 128 + status : status
    }

    /// Ends the whole pipeline (SIGKILL), whatever state it is in: for cleanup. (Also when bash
    /// has exited: a process of its group may still run.)
    func stop() {
        signalGroup(SIGKILL)
        if process.isRunning { process.waitUntilExit() }
    }
}
