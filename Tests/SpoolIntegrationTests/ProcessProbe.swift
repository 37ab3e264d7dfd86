import Foundation
import SpoolCore

#if canImport(Glibc)
import Glibc
#endif

/// What /proc says about a process and this process's sockets, for tests that check resources
/// rather than replies.
enum ProcessProbe {
    /// User plus system CPU time of `pid` so far, in seconds (/proc/<pid>/stat fields 14 and 15).
    static func cpuSeconds(_ pid: Int32) throws -> Double {
        let text = try procFile("/proc/\(pid)/stat")
        // The command name (field 2) is in parentheses and may hold spaces: count after it.
        guard let close = text.lastIndex(of: ")") else { throw ProbeError("no ) in /proc/\(pid)/stat") }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state), so field n is fields[n - 3].
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw ProbeError("short /proc/\(pid)/stat")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// A field of /proc/<pid>/status in kB (`VmHWM` is the peak resident set).
    static func statusKB(_ pid: Int32, _ field: String) throws -> Int {
        let text = try procFile("/proc/\(pid)/status")
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            if let value = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap({ Int($0) }) {
                return value
            }
        }
        throw ProbeError("no \(field) in /proc/\(pid)/status")
    }

    /// The file descriptor in this process of the TCP socket from 127.0.0.1:`localPort` to
    /// 127.0.0.1:`remotePort`: its inode from /proc/net/tcp, then the fd in /proc/self/fd that
    /// links to `socket:[inode]`.
    static func socketDescriptor(localPort: Int, remotePort: Int) throws -> Int32 {
        let local = String(format: "0100007F:%04X", localPort)
        let remote = String(format: "0100007F:%04X", remotePort)
        let table = try procFile("/proc/net/tcp")
        var inode: String?
        for line in table.split(separator: "\n").dropFirst() {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            if columns.count > 9, columns[1] == local, columns[2] == remote { inode = String(columns[9]) }
        }
        guard let inode else { throw ProbeError("no socket \(local) -> \(remote) in /proc/net/tcp") }
        let target = "socket:[\(inode)]"
        for name in try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)"), link == target,
                let fd = Int32(name)
            {
                return fd
            }
        }
        throw ProbeError("no descriptor of this process is \(target)")
    }

    /// A /proc file read to its end with read(2) (retried on EINTR): they report a size of 0,
    /// and a reader that trusts the size (or stops after one chunk) sees only their first page.
    static func procFile(_ path: String) throws -> String {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw ProbeError("cannot open \(path)") }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// An `IPPROTO_TCP` option of a socket, read with getsockopt.
    static func tcpOption(_ fd: Int32, _ name: Int32) throws -> Int32 {
        var value: Int32 = -1
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, Int32(IPPROTO_TCP), name, &value, &length) == 0 else { throw ProbeError("getsockopt errno \(errno)") }
        return value
    }
}

struct ProbeError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
