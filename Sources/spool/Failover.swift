import ArgumentParser
import NIOCore
import SpoolClient
import SpoolCore

/// `--reconnect-rounds`, for the long-running commands (`tail`, `consume`, `produce` from stdin).
struct FailoverOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "After a lost connection, passes over the --server list (with back-off from 100 ms doubling to 2 s) before giving up.",
        valueName: "n"))
    var reconnectRounds = ReconnectPolicy.default.rounds

    /// A connection lost sooner than this after it was made counts as a quick loss.
    static let quickLoss: Duration = .seconds(1)

    func validate() throws { try validateAtLeast(reconnectRounds, 1, "--reconnect-rounds") }

    var policy: ReconnectPolicy {
        var policy = ReconnectPolicy.default
        policy.rounds = reconnectRounds
        return policy
    }
}

/// Runs a long-running command: `session` on a connection to the first address that answers,
/// and again on a connection to another one each time the connection is lost (the broker died,
/// closed the socket, or answered `SHUTTING_DOWN`), until `session` returns. `session` keeps its
/// own position in variables outside it, so each new session resumes where the last one was.
///
/// The first connection gets one pass over the list (a wrong address should fail at once); a
/// reconnect gets `--reconnect-rounds` passes with back-off. Every switch is reported on
/// standard error. Other failures end the command as `withClient`'s do.
func withFailover(
    _ server: ServerOptions, _ options: FailoverOptions, _ session: (SpoolClient) async throws -> Void
) async throws {
    let connection: SpoolConnection
    do {
        connection = try await SpoolConnection.connect(to: try server.addresses, policy: options.policy)
    } catch let unreachable as BrokersUnreachable {
        throw CLIFailure(status: ExitStatus.unavailable, message: unreachable.description)
    }
    var client = await connection.client
    // A broker that takes the connection and loses it again at once (it is stopping, or
    // something between breaks every connection) must not make a busy loop: such quick losses
    // back off like failed connects, and more in a row than --reconnect-rounds end the command.
    var quickLosses = 0
    while true {
        let started = ContinuousClock.now
        do {
            try await session(client)
            await connection.close()
            return
        } catch where isConnectionLoss(error) {
            let lost = client.address
            writeStandardError("spool: lost the connection to \(lost) (\(lossReason(error))); reconnecting")
            quickLosses = ContinuousClock.now - started < FailoverOptions.quickLoss ? quickLosses + 1 : 0
            if quickLosses > options.policy.rounds {
                throw CLIFailure(
                    status: ExitStatus.unavailable,
                    message: "lost the connection \(quickLosses) times in a row right after connecting, last to \(lost); giving up")
            }
            if quickLosses > 1 { try await Task.sleep(for: options.policy.delay(afterRound: quickLosses - 2)) }
            do {
                client = try await connection.reconnect(replacing: client)
            } catch let unreachable as BrokersUnreachable {
                throw CLIFailure(status: ExitStatus.unavailable, message: "lost the connection to \(lost), then " + unreachable.description)
            }
            writeStandardError("spool: connected to \(client.address)")
        } catch {
            await connection.close()
            throw CLIFailure.from(error, address: client.address)
        }
    }
}

/// Errors after which another broker may serve the same request: the connection went away, or
/// the broker is stopping. Never an `ERR` about the request itself.
func isConnectionLoss(_ error: any Error) -> Bool {
    switch error {
    case let clientError as SpoolClientError:
        if case .connectionClosed = clientError { return true }
        return clientError.errorCode == .shuttingDown
    case is ChannelError, is IOError: return true
    default: return false
    }
}

private func lossReason(_ error: any Error) -> String {
    if let clientError = error as? SpoolClientError, case .server = clientError { return clientError.description }
    return "connection closed"
}
