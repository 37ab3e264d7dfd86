import Foundation
import Testing

/// The transcripts and commands in README.md and examples/telnet-session.md are what the broker
/// really does: each test takes them from the file and runs them against a real broker.
@Suite("README and telnet-session.md", .timeLimit(.minutes(1)))
struct DocTranscriptTests {
    /// Types each line of `transcript` (a block of alternating typed lines and replies) into a
    /// connection and checks the broker's reply is the lines that follow. A reply is one line, or
    /// for `HELP` every line up to `END HELP`; telnet's own "Connection closed by foreign host."
    /// means the broker closed the connection.
    func replay(_ transcript: [String], port: Int) throws {
        let socket = try RawSocket(port: port)
        var index = 0
        while index < transcript.count {
            let typed = transcript[index]
            index += 1
            if typed == "Connection closed by foreign host." {
                #expect(socket.readsToEnd(), "the broker closed the connection")
                return
            }
            try socket.send(typed + "\r\n")  // what telnet sends for Enter
            var reply = [try socket.readLine()]
            if reply[0].hasPrefix("HELP ") {
                while reply.last != "END HELP" { reply.append(try socket.readLine()) }
            }
            let written = Array(transcript[index..<min(index + reply.count, transcript.count)])
            #expect(written == reply, "the reply to '\(typed)'")
            guard written == reply else { return }
            index += reply.count
        }
    }

    @Test("telnet-session.md: the HELP, errors and QUIT block is the broker's real output")
    func telnetSessionHelpBlock() async throws {
        let block = try DocFile("examples/telnet-session.md").block(after: "## HELP, errors and QUIT")
        try #require(block.first == "HELP" && block.contains("HELP FETCH") && block.last == "Connection closed by foreign host.")
        let broker = try await TestBroker.start()
        do {
            try replay(block, port: broker.port)
        } catch {
            await broker.stopAndRemove()
            throw error
        }
        await broker.stopAndRemove()
    }

    @Test("README: the tour's CREATE and PUB, then the sqlite3 example shows the tour's record")
    func readmeSQLiteExample() async throws {
        let readme = try DocFile("README.md")
        let tour = try readme.block(after: "**By hand.**")
        // The tour's first two requests and their replies, as README shows them.
        let create = try #require(tour.firstIndex { $0.hasPrefix("CREATE orders") })
        let publish = try #require(tour.firstIndex { $0.hasPrefix("PUB orders key=user-42") })
        let query = try #require(readme.shellCommands.first { $0.hasPrefix("sqlite3 ") })
        try await DocShell.with { shell in
            try replay(Array(tour[create...create + 1]) + Array(tour[publish...publish + 1]), port: shell.broker.port)
            let result = try await shell.run(query)
            #expect(result.status == 0, "\(query): \(result.err)")
            #expect(result.out.contains("user-42") && result.out.contains(#"{"item":"book"}"#), "\(query) printed:\n\(result.out)")
        }
    }
}
