import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process for tests: the part of Foundation's `Process` the tests use, started with
/// `posix_spawn` directly (from `ProcessSpawner`'s thread).
///
/// Not Foundation's `Process`, because its `run()` on Linux crashes the test process once enough
/// descriptors are open: to find the highest open descriptor it reads /proc/self/fd and copies
/// each entry's 256-byte `d_name` whatever the name's length, and with more than about 1,360
/// descriptors (a full parallel run has 1,700) the last entry ends glibc's 32 KiB directory
/// buffer and the copy reads past it; when that buffer ends a heap mapping the run dies (SIGSEGV
/// in memcpy inside `Process.run`, 4 of 8 full runs). Here the child closes every descriptor
/// from 3 up with one `closefrom` action instead.
///
/// Like Foundation's, a child starts in a process group of its own, with no signal blocked and
/// every signal at its default action (as from a shell). One thread per child waits for its exit.
final class SpawnedProcess: @unchecked Sendable {  // settings before `run`, the rest under `lock`
    enum TerminationReason { case exit, uncaughtSignal }

    var executableURL: URL?
    var arguments: [String]?
    /// nil: the test process's environment.
    var environment: [String: String]?
    var currentDirectoryURL: URL?
    /// A `FileHandle` or a `Pipe`; nil is /dev/null.
    var standardInput: Any?
    var standardOutput: Any?
    var standardError: Any?
    /// Called once, on the thread that saw the exit.
    var terminationHandler: (@Sendable (SpawnedProcess) -> Void)?

    private let lock = NSCondition()
    private var pid: pid_t = 0
    private var exitStatus: Int32?
    private var reason = TerminationReason.exit

    var processIdentifier: Int32 { lock.withLock { pid } }
    var isRunning: Bool { lock.withLock { pid > 0 && exitStatus == nil } }
    /// The exit status, or the signal that ended it (`terminationReason` says which).
    var terminationStatus: Int32 {
        lock.withLock {
            precondition(exitStatus != nil, "the process has not exited")
            return exitStatus!
        }
    }
    var terminationReason: TerminationReason { lock.withLock { reason } }

    /// Starts the child (on `ProcessSpawner`'s thread, see there).
    func run() throws { try ProcessSpawner.shared.run(self) }

    func terminate() {
        let pid = processIdentifier
        if pid > 0 && isRunning { kill(pid, SIGTERM) }
    }

    func waitUntilExit() {
        lock.lock()
        while exitStatus == nil { lock.wait() }
        lock.unlock()
    }

    /// Spawns the child. Call on the spawner's thread only (its death signal follows that thread).
    func spawn() throws {
        guard let path = executableURL?.path else { throw POSIXError(.ENOENT) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var closeInParent: [FileHandle] = []
        for (target, stream, reading) in [(Int32(0), standardInput, true), (1, standardOutput, false), (2, standardError, false)] {
            switch stream {
            case let pipe as Pipe:
                let childEnd = reading ? pipe.fileHandleForReading : pipe.fileHandleForWriting
                posix_spawn_file_actions_adddup2(&actions, childEnd.fileDescriptor, target)
                closeInParent.append(childEnd)
            case let handle as FileHandle:
                posix_spawn_file_actions_adddup2(&actions, handle.fileDescriptor, target)
            default:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", reading ? O_RDONLY : O_WRONLY, 0)
            }
        }
        // Nothing else of the test process leaks into the child: a pipe's write end held by
        // an unrelated child would keep that pipe's reader from ever seeing its end.
        try Self.check(Self.addCloseFrom(&actions, 3), "closefrom")
        if let directory = currentDirectoryURL?.path { try Self.check(Self.addChdir(&actions, directory), "chdir") }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = [path] + (arguments ?? [])
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var child: pid_t = 0
        let rc = Self.withCStrings(argv) { cArgv in
            Self.withCStrings(env) { cEnv in posix_spawn(&child, path, &actions, &attributes, cArgv, cEnv) }
        }
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EINVAL) }
        for handle in closeInParent { try? handle.close() }
        let spawned = child
        lock.withLock { pid = spawned }
        let waiter = Thread { [self] in reap(spawned) }
        waiter.name = "spool-test-reaper"
        waiter.start()
    }

    private func reap(_ child: pid_t) {
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        let signaled = (status & 0x7F) != 0 && (status & 0x7F) != 0x7F
        lock.withLock {
            reason = signaled ? .uncaughtSignal : .exit
            exitStatus = signaled ? status & 0x7F : (status >> 8) & 0xFF
            lock.broadcast()
        }
        terminationHandler?(self)
    }

    private static func check(_ rc: Int32, _ what: String) throws {
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EINVAL, userInfo: ["action": what]) }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34) and `_addchdir_np` (2.29),
    /// looked up at run time: the Glibc module does not export them.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private static let closeFrom: AddCloseFrom? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        .map { unsafeBitCast($0, to: AddCloseFrom.self) }
    private static let chdir: AddChdir? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np")
        .map { unsafeBitCast($0, to: AddChdir.self) }

    private static func addCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ low: Int32) -> Int32 {
        guard let closeFrom else { return ENOSYS }
        return closeFrom(actions, low)
    }

    private static func addChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: String) -> Int32 {
        guard let chdir else { return ENOSYS }
        return path.withCString { chdir(actions, $0) }
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
        defer { for pointer in pointers { free(pointer) } }
        return pointers.withUnsafeMutableBufferPointer { body(UnsafePointer($0.baseAddress!)) }
    }
}
