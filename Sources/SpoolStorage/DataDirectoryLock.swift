#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive lock on a data folder (`flock` on `<data-dir>/LOCK`), so two brokers can never
/// assign offsets in the same partition files. The kernel drops it when the process dies, so a
/// SIGKILLed broker never leaves a stale lock behind.
public final class DataDirectoryLock: @unchecked Sendable {
    private var descriptor: Int32

    /// Takes the lock or throws at once (never waits).
    public init(directory: String) throws(StorageError) {
        let path = directory + "/LOCK"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw StorageError(code: -1, message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw StorageError(code: -1, message: "the data folder \(directory) is in use by another broker (\(path) is locked)")
        }
        descriptor = fd
        // For people: which process holds it.
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    /// Releases the lock (also done on deinit).
    public func release() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
