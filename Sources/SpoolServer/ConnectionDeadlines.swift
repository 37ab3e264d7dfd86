import SpoolCore

/// A connection's two timeouts as a pure value: the clock is passed in, so tests need neither
/// sockets nor waiting.
///
/// - Idle (`idleTimeoutMs`, 0 = off): nothing received and nothing owed for that long. The
///   caller says whether the connection may be idle at all: one with a request in flight, a
///   subscription or a group membership is waiting for the broker, not idle.
/// - Partial request (`partialRequestTimeoutMs`, 0 = off): from the first byte of a request to
///   its last (line and payload) may take at most that long. This is what closes a slowloris
///   client, which sends a byte now and then and never finishes a request.
struct ConnectionDeadlines: Sendable, Equatable {
    enum Expiry: Equatable, Sendable {
        case idle
        case partialRequest
    }

    let idleNs: UInt64?
    let partialNs: UInt64?
    /// When the connection last received bytes or finished answering.
    private(set) var lastActivityNs: UInt64
    /// When the request now arriving began, while one is only partly received.
    private(set) var partialSinceNs: UInt64?

    init(limits: SpoolLimits, nowNs: UInt64) {
        idleNs = limits.idleTimeoutMs > 0 ? UInt64(limits.idleTimeoutMs) * 1_000_000 : nil
        partialNs = limits.partialRequestTimeoutMs > 0 ? UInt64(limits.partialRequestTimeoutMs) * 1_000_000 : nil
        lastActivityNs = nowNs
    }

    mutating func activity(atNs now: UInt64) {
        lastActivityNs = max(lastActivityNs, now)
    }

    /// Part of a request is buffered; its clock starts now unless it already runs.
    mutating func partialRequest(atNs now: UInt64) {
        if partialSinceNs == nil { partialSinceNs = now }
    }

    /// No partly received request: a request was completed, or the broker stopped reading (then
    /// the client is not the one who is slow).
    mutating func noPartialRequest() {
        partialSinceNs = nil
    }

    /// The deadline that applies now, if any.
    func deadline(mayBeIdle: Bool) -> (atNs: UInt64, expiry: Expiry)? {
        if let since = partialSinceNs, let partialNs { return (since + partialNs, .partialRequest) }
        if mayBeIdle, partialSinceNs == nil, let idleNs { return (lastActivityNs + idleNs, .idle) }
        return nil
    }

    /// The timeout that has run out at `now`, if one has.
    func expired(atNs now: UInt64, mayBeIdle: Bool) -> Expiry? {
        guard let (at, expiry) = deadline(mayBeIdle: mayBeIdle), now >= at else { return nil }
        return expiry
    }
}
