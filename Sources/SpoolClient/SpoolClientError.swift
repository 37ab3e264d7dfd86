import SpoolCore

/// What a `SpoolClient` call can throw.
public enum SpoolClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The broker answered `ERR <code> <message>`. `code` is the wire word (e.g. `UNKNOWN_TOPIC`).
    case server(code: String, message: String)
    /// The connection closed before the reply arrived.
    case connectionClosed
    /// The broker's reply did not have the expected shape.
    case protocolViolation(String)
    /// The call's arguments cannot be sent (e.g. an illegal topic name).
    case invalidArgument(String)

    /// The error code when the broker sent one.
    public var errorCode: ErrorCode? {
        if case .server(let code, _) = self { return ErrorCode(rawValue: code) }
        return nil
    }

    public var description: String {
        switch self {
        case .server(let code, let message): "ERR \(code) \(message)"
        case .connectionClosed: "connection closed"
        case .protocolViolation(let text): "protocol violation: \(text)"
        case .invalidArgument(let text): "invalid argument: \(text)"
        }
    }
}
