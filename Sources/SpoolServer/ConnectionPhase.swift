/// Where a connection is in its life: what it still reads and parses, and when it closes.
///
/// One value instead of a handful of booleans (`active`, `closeAfterReplies`, ...), so a state
/// such as "closing but still counted" cannot be half set. The reply-ordering state (slots, the
/// parser, backpressure) lives beside it in `ConnectionHandler`.
enum ConnectionPhase: Equatable, Sendable {
    /// In the pipeline, not active yet.
    case new
    /// Reading and answering.
    case open
    /// Over the connection limit: its one `ERR LIMIT_REACHED` line is on its way, then it closes.
    case refused
    /// The client shut down its sending side (a half-close): every request already received is
    /// parsed and answered in order, then the connection closes.
    case inputEnded
    /// After `QUIT`, an input error that ends the connection, or a timeout: nothing more is
    /// parsed; the connection closes once the replies already due are written.
    case closing
    /// Closed; late completions are dropped.
    case closed

    /// Counted in `connections` (from `channelActive` to `channelInactive`).
    var isActive: Bool { self != .new && self != .closed }

    /// Buffered input may still be parsed and run.
    var parsesInput: Bool { self == .open || self == .inputEnded }

    /// Closes as soon as every reply due is written, whatever is still buffered.
    var closesAfterReplies: Bool { self == .refused || self == .closing }

    /// The transition for a client that shut down its sending side. Only an open connection has
    /// requests left to run; in every other phase it changes nothing.
    func inputClosed() -> ConnectionPhase { self == .open ? .inputEnded : self }

    /// The transition after `QUIT`, a fatal input error or a timeout.
    func close() -> ConnectionPhase { isActive ? .closing : self }
}
