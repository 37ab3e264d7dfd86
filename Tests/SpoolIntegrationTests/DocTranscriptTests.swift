import Foundation
import Testing

/// The transcripts and commands in README.md and examples/telnet-session.md are what the broker
/// really does: each test takes them from the file and runs them against a real broker.
@Suite("README and telnet-session.md", .timeLimit(.minutes(1)))
struct DocTranscriptTests {
    /// Types each line of `transcript` (a block of alternating typed lines and replies) into a
    /// connection and checks the broker's reply is the lines that follow. A reply is one line;
    /// for `HELP` every line up to `END HELP`; for `FETCH` its `MSG` records (header and value
    /// line) up to `END`. A byte-counted `PUB`'s payload is the typed line after it. telnet's own
    /// "Connection closed by foreign host." means the broker closed the connection. Timestamps
    /// (the 5th field of `MSG`) are compared as `<ts>`: they are the only field a rerun changes.
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
            let words = typed.split(separator: " ")
            if words.first == "PUB", !words.contains(where: { $0.hasPrefix(":") }), index < transcript.count {
                try socket.send(transcript[index] + "\r\n")  // the payload, typed on the next line
                index += 1
            }
            var reply = [try socket.readLine()]
            if reply[0].hasPrefix("HELP ") {
                while reply.last != "END HELP" { reply.append(try socket.readLine()) }
            }
            while reply.last!.hasPrefix("MSG ") {
                reply.append(try socket.readLine())  // the value (one line in these transcripts)
                reply.append(try socket.readLine())  // the next MSG, or END
            }
            let written = Array(transcript[index..<min(index + reply.count, transcript.count)])
            #expect(written.map(Self.maskingTimestamp) == reply.map(Self.maskingTimestamp), "the reply to '\(typed)'")
            guard written.map(Self.maskingTimestamp) == reply.map(Self.maskingTimestamp) else { return }
            index += reply.count
        }
    }

    /// `MSG t p o 1795612514493 k n` → `MSG t p o <ts> k n`; other lines as they are.
    static func maskingTimestamp(_ line: String) -> String {
        var fields = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard fields.first == "MSG", fields.count == 7 else { return line }
        fields[4] = "<ts>"
        return fields.joined(separator: " ")
    }

    @Test("telnet-session.md: PING, CREATE, both PUB forms and FETCH answer as the file shows")
    func telnetSessionRequests() async throws {
        let file = try DocFile("examples/telnet-session.md")
        // One connection, in the file's order (the offsets depend on it). The DESCRIBE, OFFSETS
        // time= and SUB blocks depend on the recorded clock and push timing, so they are not replayed.
        let transcript = try ["## PING and CREATE", "## PUB, inline", "## PUB, byte-counted", "## FETCH"].flatMap { try file.block(after: $0) }
        try #require(transcript.first == "PING" && transcript.contains { $0.hasPrefix("FETCH orders 0 earliest") })
        try await withTestBroker { broker in try replay(transcript, port: broker.port) }
    }

    @Test("telnet-session.md: the HELP, errors and QUIT block is the broker's real output")
    func telnetSessionHelpBlock() async throws {
        let block = try DocFile("examples/telnet-session.md").block(after: "## HELP, errors and QUIT")
        try #require(block.first == "HELP" && block.contains("HELP FETCH") && block.last == "Connection closed by foreign host.")
        try await withTestBroker { broker in try replay(block, port: broker.port) }
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
