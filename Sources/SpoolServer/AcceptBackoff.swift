import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// On the listening channel: after a failed accept, stops accepting for a moment, and logs the
/// failure (rate-limited). Out of file handles, it first uses the `HandleReserve` to tell the
/// waiting client `ERR LIMIT_REACHED`.
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
    private let reserve: HandleReserve
    private var retry: Scheduled<Void>?
    /// The spare handle was given up: the next accepted client is refused (`HandleReserve`).
    private var refusing = false
    private var failedThisRead = false

    init(log: RateLimitedLog, reserve: HandleReserve) {
        self.log = log
        self.reserve = reserve
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Once a refused client is closed and the spare is back, accept at once: the next client
        // in the backlog is told too, instead of waiting out a backoff.
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let channel = context.channel
        let loop = context.eventLoop
        reserve.setOnRestore {
            loop.execute {
                guard let retry = bound.value.retry else { return }
                retry.cancel()
                bound.value.retry = nil
                if channel.isActive { try? channel.syncOptions?.setOption(.autoRead, value: true) }
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if refusing {
            refusing = false
            reserve.refuse(Self.unwrapInboundIn(data))
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // The freed handle was not used (the client gave up meanwhile): take it back.
        if refusing && !failedThisRead {
            refusing = false
            reserve.restore()
        }
        failedThisRead = false
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        log.record(["error": "\(error)"])
        failedThisRead = true
        guard let error = error as? IOError else { return }
        if AcceptRetry.isOutOfHandles(error), !refusing, reserve.release() {
            // No backoff: the read stays pending, so the next accept, with the freed handle,
            // comes at once and takes the client that is to be told.
            refusing = true
            return
        }
        guard let delay = AcceptRetry.delay(error), retry == nil else { return }
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
        reserve.setOnRestore(nil)
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

    /// The process (EMFILE) or the system (ENFILE) has no file handle left.
    static func isOutOfHandles(_ error: IOError) -> Bool {
        error.errnoCode == EMFILE || error.errnoCode == ENFILE
    }
}
