import SpoolCore

/// What `RequestParser.next(from:)` produces for one request.
public enum ParseOutcome: Equatable, Sendable {
    /// A complete request (for `PUB`, with its whole payload).
    case request(Request)
    /// A request the broker answers with `ERR <code> <message>`. With `closeConnection: true` the
    /// broker must close the connection after sending that reply: the parser cannot tell where
    /// the next request starts, and it discards everything it is given from then on.
    case failure(SpoolError, closeConnection: Bool)
    /// Bytes to send back at this point of the reply order, answering telnet commands in the
    /// line being typed (docs/protocol.md, "Telnet"): refusals of options, `WILL TIMING-MARK`,
    /// the `AYT` line. Not a request: it is not counted as one and the line goes on.
    case telnet([UInt8])
}
