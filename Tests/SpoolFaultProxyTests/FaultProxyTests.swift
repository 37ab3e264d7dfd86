import Foundation
import NIOCore
import NIOPosix
import SpoolFaultProxy
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Fault proxy", .timeLimit(.minutes(1)))
struct FaultProxyTests {
    @Test func passesBytesBothWays() async throws {
        try await withEchoAndProxy { proxy in
            let socket = try ProxySocket(port: proxy.port)
            defer { socket.close() }
            try socket.send("hello")
            #expect(try socket.read(5) == "hello")
            #expect(proxy.bytesForwarded(.clientToServer) == 5 && proxy.bytesForwarded(.serverToClient) == 5)
        }
    }

    /// A stalled direction holds every byte and delivers them, in order, when it heals.
    @Test func aStallHoldsBytesUntilHealed() async throws {
        try await withEchoAndProxy { proxy in
            let socket = try ProxySocket(port: proxy.port)
            defer { socket.close() }
            try socket.send("a")
            #expect(try socket.read(1) == "a")
            proxy.set(.stall, .clientToServer)
            try socket.send("bc")
            try socket.send("de")
            try await eventually("the stall holds 4 bytes") { proxy.bytesHeld(.clientToServer) == 4 }
            #expect(proxy.bytesForwarded(.clientToServer) == 1)
            proxy.heal()
            #expect(try socket.read(4) == "bcde")
        }
    }

    /// Only the cut direction stops: the server's bytes still reach the client.
    @Test func aOneWayStallLeavesTheOtherDirection() async throws {
        try await withEchoAndProxy { proxy in
            let socket = try ProxySocket(port: proxy.port)
            defer { socket.close() }
            try socket.send("x")
            #expect(try socket.read(1) == "x")
            proxy.set(.stall, .serverToClient)
            try socket.send("yz")
            try await eventually("the echo is held on its way back") { proxy.bytesHeld(.serverToClient) == 2 }
            #expect(proxy.bytesForwarded(.clientToServer) == 3, "the client's bytes still went through")
            proxy.set(.pass, .serverToClient)
            #expect(try socket.read(2) == "yz")
        }
    }

    @Test func discardLosesBytesAndPassResumes() async throws {
        try await withEchoAndProxy { proxy in
            let socket = try ProxySocket(port: proxy.port)
            defer { socket.close() }
            try socket.send("1")
            #expect(try socket.read(1) == "1")
            proxy.set(.discard, .clientToServer)
            try socket.send("lost")
            try await eventually("4 bytes discarded") { proxy.bytesDiscarded == 4 }
            proxy.set(.pass, .clientToServer)
            try socket.send("kept")
            #expect(try socket.read(4) == "kept")
        }
    }

    /// Delivery never comes before the delay (a lower bound, not a speed claim), order is kept.
    @Test func delayHoldsBackInOrder() async throws {
        try await withEchoAndProxy { proxy in
            let socket = try ProxySocket(port: proxy.port)
            defer { socket.close() }
            proxy.set(.delay(ms: 150), .clientToServer)
            let start = ContinuousClock.now
            try socket.send("ab")
            try socket.send("cd")
            #expect(try socket.read(4) == "abcd")
            #expect(ContinuousClock.now - start >= .milliseconds(150))
        }
    }

    @Test func isolateClosesAndRefusesUntilHealed() async throws {
        try await withEchoAndProxy { proxy in
            let socket = try ProxySocket(port: proxy.port)
            defer { socket.close() }
            try socket.send("q")
            #expect(try socket.read(1) == "q")
            proxy.isolate()
            #expect(socket.readsToEnd(), "the open connection is closed")
            let refused = try ProxySocket(port: proxy.port)
            #expect(refused.readsToEnd(), "a new connection is closed at once")
            refused.close()
            proxy.heal()
            let again = try ProxySocket(port: proxy.port)
            defer { again.close() }
            try again.send("r")
            #expect(try again.read(1) == "r")
        }
    }
}

/// An echo server and a proxy in front of it, both stopped when `body` ends or throws.
func withEchoAndProxy(_ body: (FaultProxy) async throws -> Void) async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let echo = try await ServerBootstrap(group: group)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Echo()) }
        }
        .bind(host: "127.0.0.1", port: 0).get()
    let proxy = try await FaultProxy.start(targetPort: echo.localAddress!.port!, group: group)
    do {
        try await body(proxy)
    } catch {
        await proxy.shutdown()
        try? await echo.close()
        try? await group.shutdownGracefully()
        throw error
    }
    await proxy.shutdown()
    try? await echo.close()
    try? await group.shutdownGracefully()
}

final class Echo: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.writeAndFlush(data, promise: nil) }
}

func eventually(_ what: String, timeout: Duration = .seconds(10), _ condition: () throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    // Once more at the deadline: a test process whose threads were all busy may wake this task
    // only after the deadline, and the condition may hold by then (slow is not failed).
    if try condition() { return }
    Issue.record("timed out waiting for \(what)")
    throw CancellationError()
}

/// A blocking client socket with a 5 s receive timeout, so no read can hang a test.
final class ProxySocket {
    private var fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == bytes.count else { throw POSIXError(.EPIPE) }
    }

    /// Exactly `count` bytes, or an error at the timeout or end of stream.
    func read(_ count: Int) throws -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: count)
        while bytes.count < count {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count - bytes.count, 0) }
            guard n > 0 else { throw POSIXError(.ETIMEDOUT) }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    func readsToEnd() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 256)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}
