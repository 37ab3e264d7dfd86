import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Sits on the listening channel after `AcceptBackoffHandler`: logs failed accepts (rate-limited)
/// and keeps them from closing the listener.
final class AcceptErrorLogger: ChannelInboundHandler {
    typealias InboundIn = Channel
    typealias InboundOut = Channel

    private let log: RateLimitedLog

    init(log: RateLimitedLog) {
        self.log = log
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        log.record(["error": "\(error)"])
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
