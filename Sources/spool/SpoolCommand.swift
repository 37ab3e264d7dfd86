import ArgumentParser

/// `spool`: the command-line client. Every subcommand takes `--server HOST:PORT[,HOST:PORT...]`.
///
/// Exit codes (documented in docs/cli.md): 0 success, 1 the broker answered `ERR`, 2 usage error,
/// 66 an input file cannot be read, 69 the broker cannot be reached or closed the connection,
/// 74 output cannot be written, 75 the broker is shutting down (try again), 76 the broker's reply
/// broke the protocol. When the reader of standard output leaves, `spool` dies of SIGPIPE as `cat` does.
@main
struct SpoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Command-line client for the Spool broker.",
        discussion: """
            Every subcommand takes --server HOST:PORT, or a comma-separated list h1:p1,h2:p2 tried in
            order; the default is $SPOOL_SERVER (same forms), else 127.0.0.1:7070. One-shot commands
            use the first address that answers; tail, consume and produce (from standard input) move
            to another one when the connection is lost (see docs/cli.md).

            Exit codes:
              0   success
              1   the broker answered ERR (printed as 'spool: ERR <CODE> <message>')
              2   usage error (bad flag, argument or topic name)
              66  the --file cannot be read
              69  cannot connect to any broker, or the connection was lost (and, for tail, consume
                  and produce, no broker answered within --reconnect-rounds), or produce sent
                  records whose outcome is unknown
              74  standard output cannot be written
              75  the broker is shutting down (ERR SHUTTING_DOWN): try again later
              76  the broker's reply broke the protocol
            When the reader of its output goes away (spool fetch ... | head -1), spool stops quietly,
            killed by SIGPIPE like cat (status 141 in a shell).
            """,
        subcommands: [
            CreateCommand.self, TopicsCommand.self, DescribeCommand.self, DropCommand.self,
            ProduceCommand.self, FetchCommand.self, TailCommand.self, ConsumeCommand.self,
            OffsetsCommand.self, GroupsCommand.self, GroupCommand.self, PingCommand.self, StatsCommand.self,
        ])

    /// Like ArgumentParser's own `main`, but usage errors exit 2 (what shell users expect, as
    /// grep and bash builtins do) instead of 64, and our own failures print one line, no trace.
    static func main() async {
        do {
            var command = try await asyncParseAsRoot(nil)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            try standardOutput.flush()
        } catch let failure as CLIFailure {
            try? standardOutput.flush()
            failure.exit()
        } catch {
            try? standardOutput.flush()
            if exitCode(for: error) == .validationFailure {
                writeStandardError(fullMessage(for: error))
                terminate(ExitStatus.usage)
            }
            exit(withError: error)
        }
    }
}
