import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// On the listening channel: after a failed accept, stops accepting for a moment, and logs the
/// failure (rate-limited).
///
/// Why not NIO's `AcceptBackoffHandler`: it delays the next `read()`, but after a failed accept
/// NIO keeps the read pending and the listening socket registered, so no `read()` ever comes and
/// epoll reports the socket readable again at once. At the file-handle limit (EMFILE) that loop
/// ran a network thread at 100 % CPU. Turning `autoRead` off unregisters the socket; turning it
/// back on after the delay accepts again.
final class AcceptBackoff: ChannelInboundHandler {
    typealias InboundIn = Channel
    typealias InboundOut = Channel

    private let log: RateLimitedLog
    private var retry: Scheduled<Void>?

    init(log: RateLimitedLog) {
        self.log = log
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        log.record(["error": "\(error)"])
        guard let error = error as? IOError, let delay = AcceptRetry.delay(error), retry == nil else { return }
        let channel = context.channel
        try? channel.syncOptions?.setOption(.autoRead, value: false)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        retry = context.eventLoop.scheduleTask(in: delay) {
            bound.value.retry = nil
            if channel.isActive { try? channel.syncOptions?.setOption(.autoRead, value: true) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        retry?.cancel()
        retry = nil
        context.fireChannelInactive()
    }
}

/// How long the listener waits before accepting again after a failed accept.
enum AcceptRetry {
    /// A client that gave up before its accept (ECONNABORTED) says nothing about the broker:
    /// retry at once. Out of file handles or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): wait a
    /// little, so a freed handle is used soon but the loop is idle meanwhile.
    @Sendable static func delay(_ error: IOError) -> TimeAmount? {
        error.errnoCode == ECONNABORTED ? nil : .milliseconds(250)
    }
}
