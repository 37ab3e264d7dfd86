import Foundation
import SpoolCore
import Testing

/// What a person in telnet sends besides characters, over real TCP: Ctrl-C (`IAC IP IAC DO
/// TIMING-MARK`), option offers, erasures. The broker must answer in reply order and never glue
/// those bytes onto a command.
@Suite("Telnet negotiation and line editing", .timeLimit(.minutes(1)))
struct TelnetTests {
    static let ctrlC: [UInt8] = [0xFF, 0xF4, 0xFF, 0xFD, 0x06]  // IAC IP IAC DO TIMING-MARK
    static let willTimingMark: [UInt8] = [0xFF, 0xFB, 0x06]

    static func text(_ string: String) -> [UInt8] { Array(string.utf8) }

    /// A broker and a raw socket to it; the broker is stopped and its folder removed whatever
    /// happens in `body`.
    static func withBroker(_ body: (TestBroker, RawSocket) async throws -> Void) async throws {
        try await withTestBroker { broker in try await body(broker, try broker.socket()) }
    }

    @Test func ctrlCIsAnsweredWithATimingMarkBetweenTheReplies() async throws {
        try await Self.withBroker { _, socket in
            try socket.send("PING\r\n")
            try socket.send(Self.ctrlC)
            try socket.send("PING\r\n")
            let expected = Self.text("PONG\n") + Self.willTimingMark + Self.text("PONG\n")
            #expect(try socket.readBytes(expected.count) == expected)
            // Nothing else was sent or left glued to a line.
            try socket.send("PING\r\n")
            #expect(try socket.readBytes(5) == Self.text("PONG\n"))
        }
    }

    @Test func theTimingMarkWaitsForTheReplyOfASlowCommandBeforeIt() async throws {
        try await Self.withBroker { _, socket in
            try socket.send("CREATE t\r\n")
            #expect(try socket.readLine() == "OK t partitions=1 replication=1")
            // A long poll is still running when Ctrl-C arrives: its reply goes out first.
            try socket.send(Self.text("FETCH t 0 0 wait=300\r\n") + Self.ctrlC)
            let expected = Self.text("END t 0 next=0 high=0\n") + Self.willTimingMark
            #expect(try socket.readBytes(expected.count) == expected)
        }
    }

    @Test func optionsAreRefusedAndRefusalsAreNotAnswered() async throws {
        try await Self.withBroker { _, socket in
            // DO ECHO, WILL NAWS, then a WONT and a DONT (which get no answer), then a command.
            try socket.send([0xFF, 0xFD, 0x01, 0xFF, 0xFB, 0x1F, 0xFF, 0xFC, 0x01, 0xFF, 0xFE, 0x01] + Self.text("PING\r\n"))
            let expected: [UInt8] = [0xFF, 0xFC, 0x01, 0xFF, 0xFE, 0x1F] + Self.text("PONG\n")
            #expect(try socket.readBytes(expected.count) == expected)
        }
    }

    @Test func interruptDiscardsThePartlyTypedLine() async throws {
        try await Self.withBroker { _, socket in
            try socket.send("CREATE gone")
            try socket.send(Self.ctrlC)
            #expect(try socket.readBytes(3) == Self.willTimingMark)
            try socket.send("\r\nDESCRIBE gone\r\n")
            #expect(try socket.readLine().hasPrefix("ERR UNKNOWN_TOPIC "))
        }
    }

    @Test func backspaceAndDeleteEraseTheLastCharacter() async throws {
        try await Self.withBroker { _, socket in
            try socket.send(Self.text("CREATE abcx") + [0x08] + Self.text("\r\n"))
            #expect(try socket.readLine() == "OK abc partitions=1 replication=1")
            try socket.send(Self.text("DESCRIBE abé") + [0x7F] + Self.text("c\r\n"))
            #expect(try socket.readLine() == "TOPIC abc partitions=1 replication=1")
        }
    }

    @Test func areYouThereGetsAVisibleLine() async throws {
        try await Self.withBroker { _, socket in
            try socket.send([0xFF, 0xF6])
            #expect(try socket.readLine() == "[spool: yes]")
        }
    }

    @Test func aByteCountedPayloadKeepsTelnetBytesAsData() async throws {
        try await Self.withBroker { _, socket in
            try socket.send("CREATE t\n")
            #expect(try socket.readLine() == "OK t partitions=1 replication=1")
            let value: [UInt8] = [0x61, 0xFF, 0xF4, 0xFF, 0xFD, 0x06, 0x08, 0x7F, 0x62]
            try socket.send(Self.text("PUB t \(value.count)\n") + value + Self.text("\n"))
            #expect(try socket.readLine() == "OK t 0 0")
            try socket.send("FETCH t 0 0\n")
            let header = try socket.readLine().split(separator: " ")
            #expect(header.count == 7 && header[0] == "MSG" && header[6] == "\(value.count)")
            #expect(try socket.readBytes(value.count + 1) == value + [0x0A])
            #expect(try socket.readLine() == "END t 0 next=1 high=1")
        }
    }
}
