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
            let socket = try TestSocket(port: proxy.port)
            defer { socket.close() }
            try socket.send("hello")
            #expect(try socket.read(5) == "hello")
            #expect(proxy.bytesForwarded(.clientToServer) == 5 && proxy.bytesForwarded(.serverToClient) == 5)
        }
    }

    /// A stalled direction holds every byte and delivers them, in order, when it heals.
    @Test func aStallHoldsBytesUntilHealed() async throws {
        try await withEchoAndProxy { proxy in
            let socket = try TestSocket(port: proxy.port)
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
            let socket = try TestSocket(port: proxy.port)
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
            let socket = try TestSocket(port: proxy.port)
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
            let socket = try TestSocket(port: proxy.port)
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
            let socket = try TestSocket(port: proxy.port)
            defer { socket.close() }
            try socket.send("q")
            #expect(try socket.read(1) == "q")
            proxy.isolate()
            #expect(socket.readsToEnd(), "the open connection is closed")
            let refused = try TestSocket(port: proxy.port)
            #expect(refused.readsToEnd(), "a new connection is closed at once")
            refused.close()
            proxy.heal()
            let again = try TestSocket(port: proxy.port)
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
