import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP socket to 127.0.0.1 with a receive timeout: raw bytes in, raw bytes out, the
/// way a program without our client library (or a person in telnet) talks to the broker.
final class RawSocket {
    let fd: Int32
    private var buffered: [UInt8] = []

    init(port: Int, timeoutSeconds: Int = 10) throws {
        fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawSocketError.failed("socket") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw RawSocketError.failed("connect")
        }
    }

    deinit { close(fd) }

    /// This end's port (getsockname).
    var localPort: Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Shuts down this end's sending side (a half-close, as `nc -N` does at the end of its input);
    /// replies can still be read.
    func shutdownSending() {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw RawSocketError.failed("send") }
            sent += n
        }
    }

    /// Reads one line (without its `\n`); throws on timeout or close.
    func readLine() throws -> String {
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeFirst(newline + 1)
                return line
            }
            try fill()
        }
    }

    /// Reads exactly `count` bytes.
    func readBytes(_ count: Int) throws -> [UInt8] {
        while buffered.count < count { try fill() }
        let bytes = Array(buffered[..<count])
        buffered.removeFirst(count)
        return bytes
    }

    /// True when the peer closed the connection (reads hit end of stream) before the timeout.
    func readsToEnd() -> Bool {
        buffered.removeAll()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &chunk, chunk.count, 0)
        if n == 0 { throw RawSocketError.closed }
        if n < 0 { throw RawSocketError.failed("recv (timeout?) errno \(errno)") }
        buffered.append(contentsOf: chunk[..<n])
    }
}

enum RawSocketError: Error {
    case failed(String)
    case closed
}
