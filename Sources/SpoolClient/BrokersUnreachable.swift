import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One failed connection attempt: where, and why in a few words ("connection refused").
public struct ConnectAttempt: Sendable, Equatable, CustomStringConvertible {
    public var address: ServerAddress
    public var reason: String

    public init(address: ServerAddress, reason: String) {
        self.address = address
        self.reason = reason
    }

    public var description: String { "\(address) (\(reason))" }

    /// A short reason for a failed connect, not NIO's full dump.
    public static func reason(_ error: any Error) -> String {
        if let connection = error as? NIOConnectionError {
            if let first = connection.connectionErrors.first { return reason(first.error) }
            if connection.dnsAError != nil || connection.dnsAAAAError != nil { return "cannot resolve \(connection.host)" }
        }
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        if let channel = error as? ChannelError, case .connectTimeout = channel { return "timed out" }
        return "\(error)"
    }
}

/// No address of the list answered: every attempt of the last pass over it, in the order tried.
public struct BrokersUnreachable: Error, Sendable, Equatable, CustomStringConvertible {
    /// The last pass's attempts, one per address.
    public var attempts: [ConnectAttempt]
    /// How many passes over the list were made (1 for a plain `connect(to:)`).
    public var rounds: Int

    public init(attempts: [ConnectAttempt], rounds: Int) {
        precondition(!attempts.isEmpty, "an empty address list is refused before any attempt")
        self.attempts = attempts
        self.rounds = rounds
    }

    /// `cannot connect to 127.0.0.1:1: connection refused` for one address, else
    /// `cannot connect to any broker: a:1 (connection refused), b:2 (timed out)`.
    public var description: String {
        let passes = rounds > 1 ? " after \(rounds) rounds" : ""
        if attempts.count == 1 { return "cannot connect to \(attempts[0].address)\(passes): \(attempts[0].reason)" }
        return "cannot connect to any broker\(passes): " + attempts.map(\.description).joined(separator: ", ")
    }
}
