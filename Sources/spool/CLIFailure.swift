import NIOCore
import SpoolClient
import SpoolCore

/// Exit statuses, from sysexits.h where one fits.
enum ExitStatus {
    static let success: Int32 = 0
    /// The broker answered `ERR <CODE> <message>`.
    static let brokerError: Int32 = 1
    /// Bad flags or arguments (ArgumentParser's own would be 64, EX_USAGE; we use 2 like most shells' tools).
    static let usage: Int32 = 2
    /// EX_NOINPUT: a `--file` that cannot be read.
    static let noInput: Int32 = 66
    /// EX_UNAVAILABLE: cannot connect, or the connection was lost.
    static let unavailable: Int32 = 69
    /// EX_IOERR: standard output cannot be written.
    static let ioError: Int32 = 74
    /// EX_TEMPFAIL: the broker answered `ERR SHUTTING_DOWN`; the same request may succeed once it
    /// (or its replacement) is back, so scripts can tell "try again" from a real refusal.
    static let tryAgain: Int32 = 75
    /// EX_PROTOCOL: the broker's reply did not follow docs/protocol.md.
    static let protocolError: Int32 = 76
}

/// An ordinary failure: one line on standard error (`spool: <message>`) and an exit status.
struct CLIFailure: Error, CustomStringConvertible {
    var status: Int32
    var message: String

    var description: String { message }

    func exit() -> Never {
        writeStandardError("spool: \(message)\n")
        terminate(status)
    }

    /// Maps an error thrown while talking to the broker at `address`.
    static func from(_ error: any Error, address: ServerAddress) -> CLIFailure {
        switch error {
        case let failure as CLIFailure:
            return failure
        case let clientError as SpoolClientError:
            switch clientError {
            case .server(let code, let message):
                let status = clientError.errorCode == .shuttingDown ? ExitStatus.tryAgain : ExitStatus.brokerError
                return CLIFailure(status: status, message: "ERR \(code) \(message)")
            case .connectionClosed:
                return CLIFailure(status: ExitStatus.unavailable, message: "connection to \(address) closed")
            case .protocolViolation(let text):
                return CLIFailure(status: ExitStatus.protocolError, message: "protocol violation from \(address): \(text)")
            case .invalidArgument(let text):
                return CLIFailure(status: ExitStatus.usage, message: text)
            }
        case is ChannelError, is IOError:
            return CLIFailure(status: ExitStatus.unavailable, message: "connection to \(address) failed: \(error)")
        default:
            return CLIFailure(status: ExitStatus.unavailable, message: "\(address): \(error)")
        }
    }
}
