import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts child processes from one thread that lives as long as the test process.
///
/// Linux sends a child's parent-death signal (`PR_SET_PDEATHSIG`, which `SpooldProcess` sets with
/// `setpriv --pdeathsig`) when the *thread* that forked it ends, not the process. `Process.run`
/// forks on the calling thread, and the threads that run Swift tasks come and go (Dispatch ends
/// idle workers), so a spoold started from a task could be killed in the middle of its test.
/// Started from here, it is killed exactly when the test process dies.
///
/// Every child of the tests starts here, one at a time: `Process.run` called from several
/// threads at once crashed the test process (SIGSEGV in a memcpy inside `Process.run`, seen in a
/// full run while `spool` children and spoolds started together).
final class ProcessSpawner: @unchecked Sendable {  // `jobs` is guarded by `condition`
    static let shared = ProcessSpawner()

    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []

    private init() {
        // Foundation's `Process.run` on Linux finds the highest open descriptor by reading
        // /proc/self/fd, copying each entry's 256-byte `d_name` whatever the name's length. With
        // more than about 1,360 descriptors open (a full parallel run has 1,700: a network thread
        // per in-process broker is three), the last entry sits at the end of glibc's 32 KiB
        // directory buffer and the copy reads past it; when that buffer ends a heap mapping, the
        // test process dies (SIGSEGV in memcpy inside `Process.run`, 3 of 6 full runs). From 32 KiB
        // up, allocations get mappings of their own, rounded up to whole pages, which leaves that
        // buffer 4 KiB of slack to read into.
        // (mallopt is in <malloc.h>, which the Glibc module does not export; M_MMAP_THRESHOLD is -3.)
        if let mallopt = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
            typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
            let set = unsafeBitCast(mallopt, to: Mallopt.self)(-3, 32 * 1024)
            precondition(set == 1, "mallopt(M_MMAP_THRESHOLD) failed")
        }
        let thread = Thread { [self] in serve() }
        thread.name = "spool-test-spawner"
        thread.start()
    }

    /// Runs `process` (`Process.run`) on the spawner's thread; returns once it has started.
    /// `unblockingSignals`: the child starts with no signal blocked (a child inherits the
    /// spawning thread's mask, and a test that must send it SIGINT needs it unblocked).
    func run(_ process: Process, unblockingSignals: Bool = false) throws {
        let box = SpawnBox(process)
        let done = DispatchSemaphore(value: 0)
        condition.lock()
        jobs.append {
            var previous = sigset_t()
            if unblockingSignals {
                var none = sigset_t()
                sigemptyset(&none)
                pthread_sigmask(SIG_SETMASK, &none, &previous)
            }
            do { try box.process.run() } catch { box.error = error }
            if unblockingSignals { pthread_sigmask(SIG_SETMASK, &previous, nil) }
            done.signal()
        }
        condition.signal()
        condition.unlock()
        done.wait()
        if let error = box.error { throw error }
    }

    private func serve() -> Never {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}

/// A `Process` and its start error, handed to the spawner's thread and back (the caller waits on
/// a semaphore meanwhile, so only one thread touches it at a time).
private final class SpawnBox: @unchecked Sendable {
    let process: Process
    var error: (any Error)?
    init(_ process: Process) { self.process = process }
}
