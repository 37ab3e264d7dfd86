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
            let holder = Self.holder(lockFile: fd)
            close(fd)
            let owner = holder.map { ", \($0), which holds \(path)" } ?? " (\(path) is locked)"
            throw StorageError(code: -1, message: "\(directory) is in use by another broker\(owner)")
        }
        descriptor = fd
        // For people: which process holds it.
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    /// Who holds the lock, for the message: "spoold (pid 4242)", from the PID the holder wrote into
    /// the file after locking it (see init) and, where /proc exists, that process's name ("pid 4242"
    /// without it). Nil while the holder has not written it yet (it does right after locking).
    static func holder(lockFile fd: Int32) -> String? {
        var bytes = [UInt8](repeating: 0, count: 32)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0, let pid = Int32(String(decoding: bytes[..<n], as: UTF8.self).trimmingWhitespace()), pid > 0 else {
            return nil
        }
        return processName(pid).map { "\($0) (pid \(pid))" } ?? "pid \(pid)"
    }

    /// The command name of `pid` (Linux: /proc/<pid>/comm), or nil.
    private static func processName(_ pid: Int32) -> String? {
        let fd = open("/proc/\(pid)/comm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 64)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        let name = String(decoding: bytes[..<n], as: UTF8.self).trimmingWhitespace()
        return name.isEmpty ? nil : name
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

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
