import ArgumentParser

/// `spool ping` → `PING`, with the round-trip time.
struct PingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ping", abstract: "Check that the broker answers.")

    @OptionGroup var server: ServerOptions

    func run() async throws {
        // With a list, the address that answered.
        let (address, elapsed) = try await server.withClient { client in
            (client.address, try await ContinuousClock().measure { try await client.ping() })
        }
        let microseconds = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        try standardOutput.write("PONG from \(address) in \(microseconds / 1000).\(format3(microseconds % 1000)) ms\n")
    }

    private func format3(_ value: Int64) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, 3 - text.count)) + text
    }
}
