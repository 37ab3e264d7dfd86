import Logging
import NIOConcurrencyHelpers
import SpoolCore

/// One log line per interval for an error that can repeat thousands of times a second (a failing
/// accept, a socket option refused on every connection): the first occurrence is logged at once,
/// later ones within the interval are counted and reported with the next line.
final class RateLimitedLog: Sendable {
    private let logger: Logger
    private let message: Logger.Message
    private let intervalNs: UInt64
    private let state = NIOLockedValueBox<(lastNs: UInt64?, suppressed: Int)>((nil, 0))

    init(logger: Logger, message: Logger.Message, intervalNs: UInt64 = 10_000_000_000) {
        self.logger = logger
        self.message = message
        self.intervalNs = intervalNs
    }

    func record(_ metadata: Logger.Metadata) {
        let now = WallClock.monotonicNs()
        let suppressed: Int? = state.withLockedValue { state in
            if let last = state.lastNs, now - last < intervalNs {
                state.suppressed += 1
                return nil
            }
            defer { state = (now, 0) }
            return state.suppressed
        }
        guard let suppressed else { return }
        var metadata = metadata
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
        logger.error(message, metadata: metadata)
    }
}
