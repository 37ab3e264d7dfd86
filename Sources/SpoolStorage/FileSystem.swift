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

    /// The names in a folder (without `.` and `..`), sorted; empty when it does not exist.
    public static func listDirectory(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// `rm -rf`: removes a file, or a folder and everything in it (whatever files a crash left:
    /// journals, WALs, half-written databases). Missing is fine. Symbolic links are removed, not
    /// followed.
    public static func removeTree(_ path: String) throws(StorageError) {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw StorageError(code: -1, message: "stat \(path): \(String(cString: strerror(errno)))")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in listDirectory(path) { try removeTree(path + "/" + name) }
            try removeDirectory(path)
        } else if unlink(path) != 0 && errno != ENOENT {
            throw StorageError(code: -1, message: "unlink \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// `rename(2)`: atomic within one file system, so a folder appears whole or not at all.
    public static func rename(_ from: String, to: String) throws(StorageError) {
        #if canImport(Glibc)
        let rc = Glibc.rename(from, to)
        #else
        let rc = Darwin.rename(from, to)
        #endif
        if rc != 0 {
            throw StorageError(code: -1, message: "rename \(from) to \(to): \(String(cString: strerror(errno)))")
        }
    }

    /// Writes `text` to a new file at `path` (replacing one), fsynced before it returns.
    public static func writeFile(_ path: String, _ text: String) throws(StorageError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw StorageError(code: -1, message: "open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw StorageError(code: -1, message: "write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The first `maxBytes` of a small file as text, nil when it cannot be read.
    public static func readFile(_ path: String, maxBytes: Int = 4096) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: maxBytes)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, maxBytes) }
        guard count >= 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    /// fsyncs a folder so that file creations and removals in it survive a crash.
    public static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
