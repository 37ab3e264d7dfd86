import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The real `spoold` binary as a child process, for tests that must kill it.
final class SpooldProcess: @unchecked Sendable {
    let process: Process
    let port: Int
    let dataDirectory: String

    /// The spoold built next to this test binary (swift test builds it: the test target depends on it).
    static var binaryPath: String {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // On Linux the test runner is <build>/debug/SpoolPackageTests.xctest; look beside it and up.
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("spoold").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/spoold").path
    }

    /// Starts spoold on 127.0.0.1 with a free port and waits for its "listening" line.
    static func start(dataDirectory: String, extraArguments: [String] = []) throws -> SpooldProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binaryPath)
        process.arguments = ["--listen", "127.0.0.1:0", "--data-dir", dataDirectory, "--log-level", "warning"] + extraArguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        // Read the first line with a deadline: the broker prints where it listens once it is ready.
        let handle = output.fileHandleForReading
        let deadline = Date().addingTimeInterval(30)
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            guard Date() < deadline, process.isRunning else {
                process.terminate()
                throw TimeoutError(what: "spoold to print its listening line")
            }
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let range = text.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression),
            let port = Int(text[range].split(separator: ":").last ?? "")
        else {
            process.terminate()
            throw TimeoutError(what: "a port in spoold's first line, got: \(text)")
        }
        return SpooldProcess(process: process, port: port, dataDirectory: dataDirectory)
    }

    private init(process: Process, port: Int, dataDirectory: String) {
        self.process = process
        self.port = port
        self.dataDirectory = dataDirectory
    }

    /// SIGKILL: no chance to flush, close or checkpoint anything.
    func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM and wait for a clean exit; returns the exit status.
    func terminate() -> Int32 {
        Glibc.kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return process.terminationStatus
    }
}
