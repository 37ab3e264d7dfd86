import SpoolCore

/// What `RequestParser.next(from:)` produces for one request.
public enum ParseOutcome: Equatable, Sendable {
    /// A complete request (for `PUB`, with its whole payload).
    case request(Request)
    /// A request the broker answers with `ERR <code> <message>`. With `closeConnection: true` the
    /// broker must close the connection after sending that reply: the parser cannot tell where
    /// the next request starts, and it discards everything it is given from then on.
    case failure(SpoolError, closeConnection: Bool)
}
