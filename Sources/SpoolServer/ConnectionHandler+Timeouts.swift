import NIOCore
import SpoolCore

/// The idle and partial-request timeouts (`ConnectionDeadlines`): one scheduled check per
/// connection, moved only when a deadline comes earlier than the armed check. A check that finds
/// its deadline moved by activity re-arms for the new one instead of closing.
extension ConnectionHandler {
    func checkDeadlines() {
        guard phase == .open, let loop = eventLoop else { return }
        let now = WallClock.monotonicNs()
        let idle = mayBeIdle
        if let expiry = deadlines.expired(atNs: now, mayBeIdle: idle) {
            timedOut(expiry)
            return
        }
        // Not idle now (a request is in flight, a subscription waits): look again one idle
        // period later, when it may be.
        guard let next = deadlines.deadline(mayBeIdle: idle)?.atNs ?? deadlines.idleNs.map({ now + $0 }) else { return }
        if let armed = deadlineCheck, armed.atNs <= next { return }
        deadlineCheck?.task.cancel()
        let bound = NIOLoopBound(self, eventLoop: loop)
        let task = loop.scheduleTask(in: .nanoseconds(Int64(clamping: next - min(next, now)))) {
            bound.value.deadlineCheck = nil
            bound.value.checkDeadlines()
        }
        deadlineCheck = (task, next)
    }

    private func timedOut(_ expiry: ConnectionDeadlines.Expiry) {
        let error: SpoolError
        switch expiry {
        case .partialRequest:
            error = SpoolError(.timeout, "request not complete after \(limits.partialRequestTimeoutMs) ms; closing")
        case .idle:
            error = SpoolError(.timeout, "idle for \(limits.idleTimeoutMs) ms; closing")
        }
        logger.debug(
            "connection timed out",
            metadata: ["timeout": "\(expiry)", "peer": "\(context?.channel.remoteAddress.map { "\($0)" } ?? "-")"])
        failAndClose(error)
        if !inReadCycle { flushOutbound() }
    }
}
