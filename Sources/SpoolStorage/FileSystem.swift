#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few file operations storage needs, on POSIX calls (no Foundation in the storage path).
public enum FileSystem {
    /// `mkdir -p`.
    public static func makeDirectories(_ path: String) throws(StorageError) {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += component + "/"
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw StorageError(code: -1, message: "mkdir \(prefix): \(String(cString: strerror(errno)))")
            }
        }
    }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// Bytes on disk of a SQLite database and its WAL (0 for files that do not exist).
    public static func diskBytes(ofDatabase path: String) -> Int64 {
        fileSize(path) + fileSize(path + "-wal")
    }

    public static func fileSize(_ path: String) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        return Int64(info.st_size)
    }

    /// Removes a database with its WAL and shared-memory files. Missing files are fine.
    public static func removeDatabase(_ path: String) throws(StorageError) {
        for file in [path, path + "-wal", path + "-shm"] {
            if unlink(file) != 0 && errno != ENOENT {
                throw StorageError(code: -1, message: "unlink \(file): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Removes an empty folder. Missing is fine.
    public static func removeDirectory(_ path: String) throws(StorageError) {
        if rmdir(path) != 0 && errno != ENOENT {
            throw StorageError(code: -1, message: "rmdir \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// fsyncs a folder so that file creations and removals in it survive a crash.
    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
