import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The real `spoold` binary as a child process, for tests that must kill it. Start it with
/// `withSpoold` (TestLifecycle.swift), which always stops it.
///
/// It dies with the test process: spoold runs under `setpriv --pdeathsig KILL`, so the kernel
/// kills it when the thread that started it ends, and `ProcessSpawner` starts every one from a
/// thread that lives as long as the test process. (A spoold that outlived a crashed test process
/// kept the run's output pipe open, and `swift test` waited for it forever.)
final class SpooldProcess: @unchecked Sendable {
    let process: SpawnedProcess
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
        let process = SpawnedProcess()
        let command = Self.command(binary: binary.path, dataDirectory: dataDirectory, extraArguments: extraArguments, shell: shell, launcher: launcher)
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
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
            let chunk = readSome(handle)
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

    /// The command line that runs spoold: the launcher or the shell, then `setpriv --pdeathsig
    /// KILL`, then spoold. The death signal comes last because a launcher that changes the user
    /// (`setpriv --reuid`) clears it, and it survives the `exec`s after it.
    static func command(binary: String, dataDirectory: String, extraArguments: [String], shell: String?, launcher: [String]) -> [String] {
        let arguments = ["--listen", "127.0.0.1:0", "--data-dir", dataDirectory, "--log-level", "warning"] + extraArguments
        let spoold = [deathSignal, "--pdeathsig", "KILL", binary] + arguments
        if let shell { return ["/bin/bash", "-c", shell + "; exec \"$0\" \"$@\""] + spoold }
        return launcher + spoold
    }

    static let deathSignal = "/usr/bin/setpriv"

    private init(process: SpawnedProcess, port: Int, dataDirectory: String) {
        self.process = process
        self.port = port
        self.dataDirectory = dataDirectory
    }

    var pid: Int32 { process.processIdentifier }

    /// SIGKILL: no chance to flush, close or checkpoint anything.
    /// Does nothing once the process has exited, so a `defer { kill() }` is always safe.
    func kill() {
        guard process.isRunning else { return }
        send(SIGKILL)
        _ = waitForExit(seconds: 30)
    }

    /// SIGSTOP: the broker stops answering anyone (peers and clients) without closing a socket.
    /// `kill()` still ends it (SIGKILL works on a stopped process).
    func pause() {
        guard process.isRunning else { return }
        send(SIGSTOP)
    }

    /// SIGCONT after `pause()`.
    func resume() {
        guard process.isRunning else { return }
        send(SIGCONT)
    }

    /// SIGTERM and wait for a clean exit; returns the exit status, or -1 when the broker did not
    /// stop within 60 s (it is then killed, so the test fails instead of hanging; a loaded 2-core
    /// machine can take seconds to checkpoint and close).
    /// Once it has exited, sends nothing and returns the status it exited with (the pid of a
    /// reaped child may belong to another process by now).
    func terminate() -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        send(SIGTERM)
        guard waitForExit(seconds: 60) else {
            send(SIGKILL)
            _ = waitForExit(seconds: 30)
            return -1
        }
        return process.terminationStatus
    }

    /// Signals spoold, never pid 0 or below: `kill(0, ...)` would signal this test process's own
    /// process group (the test run itself).
    private func send(_ signal: Int32) {
        let pid = process.processIdentifier
        precondition(pid > 0, "spoold has no process id")
        Glibc.kill(pid, signal)
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

/// What `read(2)` returns from `handle` (empty at end of file or on an error), retried when a
/// signal interrupts it. `FileHandle.availableData` traps on EINTR (Foundation's `try!`), and the
/// test process does get signals: every child's exit is a SIGCHLD.
func readSome(_ handle: FileHandle, upTo count: Int = 65_536) -> Data {
    var buffer = [UInt8](repeating: 0, count: count)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, count) }
        if n < 0 && errno == EINTR { continue }
        return n > 0 ? Data(buffer[..<n]) : Data()
    }
}
