import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The real `spoold` binary as a child process, for tests that must kill it.
final class SpooldProcess: @unchecked Sendable {
    let process: Process
    let port: Int
    let dataDirectory: String

    /// Starts spoold on 127.0.0.1 with a free port and waits for its "listening" line.
    /// `environment` is added to this process's (the power-loss tests pass SPOOL_TEST_VFS there).
    /// `shell`: bash commands run first, in the process that then becomes spoold (`exec`), e.g.
    /// `ulimit -S -n 300` to start it under a low file descriptor limit. A `launcher`
    /// (`["/usr/bin/setpriv", "--reuid=65534", ...]`, `["/usr/bin/prlimit", ...]`) runs spoold
    /// through it; it must exec spoold, so the process id is spoold's. At most one of the two.
    static func start(
        dataDirectory: String, extraArguments: [String] = [], environment: [String: String] = [:], shell: String? = nil,
        launcher: [String] = []
    ) throws -> SpooldProcess {
        precondition(shell == nil || launcher.isEmpty, "a shell or a launcher, not both")
        guard let binary = ChildProcess.builtProduct("spoold") else { throw TimeoutError(what: "spoold to be built by swift test") }
        let process = Process()
        let arguments = ["--listen", "127.0.0.1:0", "--data-dir", dataDirectory, "--log-level", "warning"] + extraArguments
        if let tool = launcher.first {
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = Array(launcher.dropFirst()) + [binary.path] + arguments
        } else if let shell {
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", shell + "; exec \"$0\" \"$@\"", binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        // Read the first line with a deadline: the broker prints where it listens once it is ready.
        // A read blocks, so a watchdog kills a broker that says nothing, which ends the read.
        let handle = output.fileHandleForReading
        let watchdog = DispatchWorkItem { [process] in if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 30, execute: watchdog)
        defer { watchdog.cancel() }
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
            let port = Int(text[range].split(separator: ":").last ?? "")
        else {
            // Only while it runs: the pid of a reaped child may already belong to another process.
            if process.isRunning { process.terminate() }
            throw TimeoutError(what: "a port in spoold's first line, got: \(text)")
        }
        return SpooldProcess(process: process, port: port, dataDirectory: dataDirectory)
    }

    private init(process: Process, port: Int, dataDirectory: String) {
        self.process = process
        self.port = port
        self.dataDirectory = dataDirectory
    }

    var pid: Int32 { process.processIdentifier }

    /// SIGKILL: no chance to flush, close or checkpoint anything.
    /// Does nothing once the process has exited, so a `defer { kill() }` is always safe.
    func kill() {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        _ = waitForExit(seconds: 30)
    }

    /// SIGTERM and wait for a clean exit; returns the exit status, or -1 when the broker did not
    /// stop within 30 s (it is then killed, so the test fails instead of hanging).
    func terminate() -> Int32 {
        Glibc.kill(process.processIdentifier, SIGTERM)
        guard waitForExit(seconds: 30) else {
            Glibc.kill(process.processIdentifier, SIGKILL)
            _ = waitForExit(seconds: 30)
            return -1
        }
        return process.terminationStatus
    }

    /// Polls until the process exits or the deadline passes; true when it exited.
    private func waitForExit(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            guard Date() < deadline else { return false }
            usleep(5_000)
        }
        return true
    }
}
