import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts child processes from one thread that lives as long as the test process.
///
/// Linux sends a child's parent-death signal (`PR_SET_PDEATHSIG`, which `SpooldProcess` sets with
/// `setpriv --pdeathsig`) when the *thread* that forked it ends, not the process. `posix_spawn`
/// forks on the calling thread, and the threads that run Swift tasks come and go (Dispatch ends
/// idle workers), so a spoold started from a task could be killed in the middle of its test.
/// Started from here, it is killed exactly when the test process dies.
///
/// Every child of the tests starts here, one at a time, as a `SpawnedProcess` (not Foundation's
/// `Process`: see SpawnedProcess.swift).
final class ProcessSpawner: @unchecked Sendable {  // `jobs` is guarded by `condition`
    static let shared = ProcessSpawner()

    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []

    private init() {
        let thread = Thread { [self] in serve() }
        thread.name = "spool-test-spawner"
        thread.start()
    }

    /// Spawns `process` on the spawner's thread; returns once it has started.
    func run(_ process: SpawnedProcess) throws {
        let box = SpawnBox(process)
        let done = DispatchSemaphore(value: 0)
        condition.lock()
        jobs.append {
            do { try box.process.spawn() } catch { box.error = error }
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

/// A process and its start error, handed to the spawner's thread and back (the caller waits on
/// a semaphore meanwhile, so only one thread touches it at a time).
private final class SpawnBox: @unchecked Sendable {
    let process: SpawnedProcess
    var error: (any Error)?
    init(_ process: SpawnedProcess) { self.process = process }
}
