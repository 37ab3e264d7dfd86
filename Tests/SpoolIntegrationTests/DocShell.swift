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
        let shell = try await start()
        do {
            try await body(shell)
        } catch {
            await shell.stopAndRemove()
            throw error
        }
        await shell.stopAndRemove()
    }

    /// A fresh folder with a broker on a free port, its data in `<folder>/spool-data`.
    private static func start() async throws -> DocShell {
        let folder = NSTemporaryDirectory() + "spool-doc-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder + "/spool-data", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: folder + "/examples", withDestinationPath: ChildProcess.packageRoot.appendingPathComponent("examples").path)
        let broker: TestBroker
        do {
            broker = try await TestBroker.start(dataDirectory: folder + "/spool-data")
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
        let spool = try #require(ChildProcess.builtProduct("spool"), "the spool binary is built by swift test")
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let environment = ["PATH": spool.deletingLastPathComponent().path + ":" + path, "SPOOL_SERVER": "127.0.0.1:\(broker.port)"]
        return DocShell(folder: folder, broker: broker, environment: environment)
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

    /// Starts `line` as if in a terminal of its own (in its own process group, so its whole
    /// pipeline gets Ctrl-C's SIGINT or is stopped together); its output goes to files.
    func launch(_ line: String) throws -> BackgroundCommand {
        let command = try BackgroundCommand(line: line, shell: self)
        launched.withLock { $0.append(command) }
        return command
    }

    /// Stops what it launched and the broker, and removes the folder.
    private func stopAndRemove() async {
        for command in launched.withLock({ $0 }) { command.stop() }
        await broker.stop()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

struct DocShellError: Error, CustomStringConvertible {
    var what: String
    var description: String { what }
}

/// A command started by `DocShell.launch`, as if in its own terminal.
final class BackgroundCommand: @unchecked Sendable {  // the Process is only signalled and polled
    let line: String
    let process: Process
    private let outputPath: String
    private let errorPath: String

    fileprivate init(line: String, shell: DocShell) throws {
        self.line = line
        let id = UUID().uuidString
        outputPath = shell.folder + "/out-\(id).txt"
        errorPath = shell.folder + "/err-\(id).txt"
        for path in [outputPath, errorPath] { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        process = Process()
        process.executableURL = DocShell.bash
        process.arguments = ["-c", line]
        var variables = ProcessInfo.processInfo.environment
        variables.merge(shell.environment) { $1 }
        process.environment = variables
        process.currentDirectoryURL = URL(fileURLWithPath: shell.folder)
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        process.standardOutput = FileHandle(forWritingAtPath: outputPath)
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        try Self.runUnblocked(process)
        // Foundation starts a child in a process group of its own (group id = its pid), as a
        // terminal does for a pipeline: `interrupt` and `stop` signal the whole group.
        let group = getpgid(process.processIdentifier)
        guard group == process.processIdentifier || !process.isRunning else {
            stop()
            throw DocShellError(what: "`\(line)` does not run in a process group of its own (it is in \(group))")
        }
    }

    /// Starts `process` with no signal blocked, as from a terminal. A child inherits the signal
    /// mask of the thread that spawns it, and the test's threads block nearly every signal: a
    /// blocked SIGINT would never reach the command.
    private static func runUnblocked(_ process: Process) throws {
        var none = sigset_t()
        var previous = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
    }

    var out: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var err: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }
    var lines: [String] { out.split(separator: "\n").map(String.init) }

    /// Ctrl-C in its terminal: SIGINT to every process of the pipeline.
    func interrupt() {
        kill(-process.processIdentifier, SIGINT)
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
        kill(-process.processIdentifier, SIGKILL)
        if process.isRunning { process.waitUntilExit() }
    }
}

/// The commands and transcripts in a Markdown file of this repository.
struct DocFile {
    let text: String

    init(_ relativePath: String) throws {
        text = try String(contentsOf: ChildProcess.packageRoot.appendingPathComponent(relativePath), encoding: .utf8)
    }

    /// The fenced blocks, in order: their info string (`sh`, or empty) and their lines.
    var blocks: [(info: String, lines: [String])] {
        var blocks: [(String, [String])] = []
        var current: (String, [String])?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") {
                if let block = current {
                    blocks.append(block)
                    current = nil
                } else {
                    current = (String(line.dropFirst(3)), [])
                }
            } else if current != nil {
                current!.1.append(line)
            }
        }
        return blocks
    }

    /// The commands of the `sh` blocks: one per line, a line ending in `\` joined with the next,
    /// blank lines and comments left out, a trailing `# comment` cut.
    var shellCommands: [String] {
        var commands: [String] = []
        for block in blocks where block.info == "sh" {
            var pending = ""
            for line in block.lines {
                if line.hasSuffix("\\") {
                    pending += line.dropLast() + " "
                    continue
                }
                let command = (pending + line).trimmingCharacters(in: .whitespaces)
                pending = ""
                if command.isEmpty || command.hasPrefix("#") { continue }
                commands.append(Self.withoutTrailingComment(command))
            }
        }
        return commands
    }

    /// `cmd   # note` → `cmd` (a `#` after two spaces; none of our commands has one inside quotes).
    static func withoutTrailingComment(_ command: String) -> String {
        guard let range = command.range(of: "  #") else { return command }
        return command[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
    }

    /// The first block after the line that contains `heading`.
    func block(after heading: String) throws -> [String] {
        let headingOffset = try #require(text.range(of: heading), "no '\(heading)' in the file").upperBound
        let rest = DocFile(text: String(text[headingOffset...]))
        return try #require(rest.blocks.first, "no block after '\(heading)'").lines
    }

    private init(text: String) {
        self.text = text
    }
}
