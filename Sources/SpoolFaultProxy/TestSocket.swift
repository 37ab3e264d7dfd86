import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Test support: a blocking client socket to 127.0.0.1 for hand-made bytes, with a 5 s receive
/// timeout so that no read can hang a test. For tests of the proxy and of the peer transport.
public final class TestSocket {
    private var fd: Int32

    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            Glibc.close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit { close() }

    public func send(_ text: String) throws { try send(Array(text.utf8)) }

    public func send(_ buffer: ByteBuffer) throws { try send(Array(buffer.readableBytesView)) }

    public func send(_ bytes: [UInt8]) throws {
        let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == bytes.count else { throw POSIXError(.EPIPE) }
    }

    /// Exactly `count` bytes as text, or an error at the timeout or end of stream.
    public func read(_ count: Int) throws -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: count)
        while bytes.count < count {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count - bytes.count, 0) }
            guard n > 0 else { throw POSIXError(.ETIMEDOUT) }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// True when some bytes arrive before the timeout.
    public func readsSomething() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        return chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) } > 0
    }

    /// True when the peer closes (end of stream or reset) before the timeout.
    public func readsToEnd() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}
