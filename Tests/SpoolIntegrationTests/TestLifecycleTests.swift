import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The lifecycle helpers keep their promise: whatever the body does, what they started is
/// stopped and what they made is removed, and a spawned spoold cannot outlive the test process.
// Deadlines are generous: under a full suite on a loaded 2-core machine a spoold took long to
// start and to die.
@Suite("Test lifecycle helpers", .timeLimit(.minutes(3)))
struct TestLifecycleTests {
    struct Planted: Error {}

    /// Where a helper's body ended: it returned after a failed `#expect`, or it threw.
    enum Ending: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case failedExpectation, thrownError
        var testDescription: String { rawValue }
    }

    /// How a spoold is started: directly, through a shell prologue, or through a launcher.
    enum Start: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case plain, shell, launcher
        var shell: String? { self == .shell ? "ulimit -n 2048" : nil }
        var launcher: [String] { self == .launcher ? ["/usr/bin/prlimit", "--nofile=2048"] : [] }
        var testDescription: String { rawValue }
    }

    @Test(arguments: Ending.allCases)
    func anInProcessBrokerIsStoppedAndItsFolderRemoved(_ ending: Ending) async throws {
        let seen = Slot<(folder: String, port: Int)>()
        await withKnownIssue {
            try await withTestBroker { broker in
                seen.value = (broker.dataDirectory, broker.port)
                #expect(try broker.socket().ask("PING") == "PONG")
                if ending == .thrownError { throw Planted() } else { #expect(Bool(false), "planted") }
            }
        }
        let (folder, port) = try #require(seen.value)
        #expect(!FileManager.default.fileExists(atPath: folder))
        #expect(throws: RawSocketError.self) { try RawSocket(port: port) }
    }

    @Test(arguments: Ending.allCases)
    func aSpawnedSpooldIsStoppedAndItsFolderRemoved(_ ending: Ending) async throws {
        let seen = Slot<SpooldProcess>()
        await withKnownIssue {
            try await withSpoold { spoold in
                seen.value = spoold
                #expect(try RawSocket(port: spoold.port).ask("PING") == "PONG")
                if ending == .thrownError { throw Planted() } else { #expect(Bool(false), "planted") }
            }
        }
        let spoold = try #require(seen.value)
        try #require(!spoold.process.isRunning)
        // (Only now: Foundation traps when asked the status of a process still running.)
        #expect(spoold.process.terminationStatus == 0, "stopped with SIGTERM, cleanly")
        #expect(!FileManager.default.fileExists(atPath: spoold.dataDirectory))
    }

    @Test func aRestartOnTheSameFolderKeepsItUntilTheEnd() async throws {
        let kept = try await withTemporaryFolder { folder in
            try await withSpoold(on: folder) { spoold in
                let socket = try RawSocket(port: spoold.port)
                #expect(try socket.ask("CREATE kept") == "OK kept partitions=1 replication=1")
                spoold.kill()
            }
            #expect(FileManager.default.fileExists(atPath: folder + "/topics/kept"))
            try await withTestBroker(on: folder) { broker in
                let socket = try broker.socket()
                #expect(try socket.askBlock("TOPICS") == ["TOPIC kept partitions=1", "END TOPICS 1"])
            }
            return folder
        }
        #expect(!FileManager.default.fileExists(atPath: kept))
    }

    /// A stand-in for the test process (bash) starts spoold as `withSpoold` does and is killed:
    /// spoold dies with it, also through a shell or a launcher.
    @Test(arguments: Start.allCases)
    func aSpooldDiesWithTheProcessThatStartedIt(_ how: Start) async throws {
        let binary = try #require(ChildProcess.builtProduct("spoold"))
        try await withTemporaryFolder { folder in
            let command = SpooldProcess.command(binary: binary.path, dataDirectory: folder, extraArguments: [], shell: how.shell, launcher: how.launcher)
            let parent = SpawnedProcess()
            parent.executableURL = URL(fileURLWithPath: "/bin/bash")
            parent.arguments = ["-c", #""$@" > /dev/null 2>&1 & echo $!; wait"#, "bash"] + command
            let output = Pipe()
            parent.standardOutput = output
            try parent.run()
            defer { if parent.isRunning { kill(parent.processIdentifier, SIGKILL) } }
            let line = String(decoding: readSome(output.fileHandleForReading), as: UTF8.self)
            let pid = try #require(Int32(line.trimmingCharacters(in: .whitespacesAndNewlines)), "bash said \(line)")
            // Past every exec (the death signal is set just before the last one).
            try await eventually(timeout: .seconds(60), "\(how): spoold to run") { Self.isSpoold(pid, binary: binary, folder: folder) }
            defer { if Self.isSpoold(pid, binary: binary, folder: folder) { kill(pid, SIGKILL) } }
            kill(parent.processIdentifier, SIGKILL)
            try await eventually(timeout: .seconds(60), "\(how): spoold to die with its parent") {
                !Self.isSpoold(pid, binary: binary, folder: folder)
            }
        }
    }

    /// The kernel sends the death signal when the *thread* that started a child ends: spoold is
    /// started from the spawner's thread, so it outlives the (short-lived) thread that asked.
    @Test func aSpooldOutlivesTheThreadThatAskedForIt() async throws {
        try await withTemporaryFolder { folder in
            let started = Slot<(Result<SpooldProcess, any Error>, Int32)>()
            let asking = Thread {
                // This thread's id, from /proc/thread-self (-> <pid>/task/<tid>).
                let thread = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self"))
                    .flatMap { Int32($0.split(separator: "/").last ?? "") } ?? -1
                started.value = (Result { try SpooldProcess.start(dataDirectory: folder) }, thread)
            }
            asking.start()
            try await eventually(timeout: .seconds(40), "spoold to start") { started.value != nil }
            let (result, thread) = try #require(started.value)
            let spoold = try result.get()
            defer { _ = spoold.terminate() }
            try await eventually("the asking thread to end") { !FileManager.default.fileExists(atPath: "/proc/self/task/\(thread)") }
            #expect(try RawSocket(port: spoold.port).ask("PING") == "PONG")
            #expect(spoold.process.isRunning)
        }
    }

    /// True while `pid` is the spoold of `folder` (not once it is a zombie or gone, nor when the
    /// pid was reused: a busy suite starts many processes, and this one is killed at the end).
    static func isSpoold(_ pid: Int32, binary: URL, folder: String) -> Bool {
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe"),
            let commandLine = try? ProcessProbe.procFile("/proc/\(pid)/cmdline"),
            let stat = try? ProcessProbe.procFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return exe == binary.resolvingSymlinksInPath().path && commandLine.split(separator: "\0").contains { $0 == folder } && state != "Z"
    }
}
