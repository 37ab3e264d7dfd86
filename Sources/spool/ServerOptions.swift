import ArgumentParser
import NIOCore
import NIOPosix
import SpoolClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `--server HOST:PORT[,HOST:PORT...]`, shared by every subcommand.
struct ServerOptions: ParsableArguments {
    static let environmentVariable = "SPOOL_SERVER"

    @Option(name: .long, help: ArgumentHelp(
        "Broker address HOST:PORT, or a comma-separated list of them tried in order (default: $SPOOL_SERVER, else 127.0.0.1:7070).",
        valueName: "host:port,..."))
    var server: String?

    /// The addresses to use, in order: the flag, else the environment, else 127.0.0.1:7070.
    var addresses: [ServerAddress] {
        get throws {
            if let server {
                guard let list = ServerAddress.list(server) else {
                    throw ValidationError("--server must be HOST:PORT or a comma-separated list of them, got '\(server)'")
                }
                return list
            }
            if let text = getenv(Self.environmentVariable).map({ String(cString: $0) }), !text.isEmpty {
                guard let list = ServerAddress.list(text) else {
                    throw ValidationError("$\(Self.environmentVariable) must be HOST:PORT or a comma-separated list of them, got '\(text)'")
                }
                return list
            }
            return [ServerAddress.fallback]
        }
    }

    func validate() throws {
        _ = try addresses
    }

    /// Connects to the first address that answers, runs `body`, closes: a one-shot command. Every
    /// error comes out as a `CLIFailure` with its exit status.
    func withClient<T>(_ body: (SpoolClient) async throws -> T) async throws -> T {
        let client = try await connect()
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw CLIFailure.from(error, address: client.address)
        }
    }

    /// One pass over the addresses; `cannot connect to ...` naming each one when none answers.
    func connect() async throws -> SpoolClient {
        do {
            return try await SpoolClient.connect(to: try addresses)
        } catch let unreachable as BrokersUnreachable {
            throw CLIFailure(status: ExitStatus.unavailable, message: unreachable.description)
        }
    }
}
