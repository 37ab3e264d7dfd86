import ArgumentParser
import NIOCore
import NIOPosix
import SpoolClient

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `--server HOST:PORT`, shared by every subcommand.
struct ServerOptions: ParsableArguments {
    static let environmentVariable = "SPOOL_SERVER"

    @Option(name: .long, help: ArgumentHelp(
        "Broker address, HOST:PORT (default: $SPOOL_SERVER, else 127.0.0.1:7070).", valueName: "host:port"))
    var server: String?

    /// The address to use: the flag, else the environment, else 127.0.0.1:7070.
    var address: ServerAddress {
        get throws {
            if let server {
                guard let address = ServerAddress(server) else { throw ValidationError("--server must be HOST:PORT, got '\(server)'") }
                return address
            }
            if let text = getenv(Self.environmentVariable).map({ String(cString: $0) }), !text.isEmpty {
                guard let address = ServerAddress(text) else {
                    throw ValidationError("$\(Self.environmentVariable) must be HOST:PORT, got '\(text)'")
                }
                return address
            }
            return ServerAddress.fallback
        }
    }

    func validate() throws {
        _ = try address
    }

    /// Connects, runs `body`, closes. Every error comes out as a `CLIFailure` with its exit status.
    func withClient<T>(_ body: (SpoolClient) async throws -> T) async throws -> T {
        let address = try address
        let client: SpoolClient
        do {
            client = try await SpoolClient.connect(host: address.host, port: address.port)
        } catch {
            throw CLIFailure(status: ExitStatus.unavailable, message: "cannot connect to \(address): \(Self.reason(error))")
        }
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw CLIFailure.from(error, address: address)
        }
    }

    /// A short reason for a failed connect ("connection refused"), not NIO's full dump.
    static func reason(_ error: any Error) -> String {
        if let connection = error as? NIOConnectionError {
            if let first = connection.connectionErrors.first { return reason(first.error) }
            if connection.dnsAError != nil || connection.dnsAAAAError != nil { return "cannot resolve \(connection.host)" }
        }
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)).lowercased() }
        if let channel = error as? ChannelError, case .connectTimeout = channel { return "timed out" }
        return "\(error)"
    }
}
