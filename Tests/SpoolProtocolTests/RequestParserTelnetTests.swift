import NIOCore
import SpoolCore
import SpoolProtocol
import Testing

/// Telnet in request lines (RFC 854, RFC 860): commands stripped and answered, IP/AO/EL drop
/// the line being typed, BS/DEL/EC erase a character, byte-counted payloads untouched.
@Suite("RequestParser: telnet")
struct RequestParserTelnetTests {
    static let iac: UInt8 = 255, dont: UInt8 = 254, `do`: UInt8 = 253, wont: UInt8 = 252, will: UInt8 = 251
    static let sb: UInt8 = 250, ga: UInt8 = 249, el: UInt8 = 248, ec: UInt8 = 247, ayt: UInt8 = 246
    static let ao: UInt8 = 245, ip: UInt8 = 244, brk: UInt8 = 243, dm: UInt8 = 242, nop: UInt8 = 241, se: UInt8 = 240
    static let timingMark: UInt8 = 6, echo: UInt8 = 1, suppressGoAhead: UInt8 = 3, naws: UInt8 = 31
    static let bs: UInt8 = 0x08, del: UInt8 = 0x7F
    static let areYouThere = ParseOutcome.telnet(Array("[spool: yes]\n".utf8))

    static func text(_ string: String) -> [UInt8] { Array(string.utf8) }

    static func row(_ input: [UInt8], _ expected: ParseOutcome...) -> ParseFixture {
        ParseFixture(input: input, expected: expected)
    }

    static func published(_ value: [UInt8]) -> ParseOutcome {
        .request(.publish(PublishRequest(topic: topic("orders"), value: ByteBuffer(bytes: value))))
    }

    /// Rows that end at a line boundary, so they can also be sent one after another.
    static let rows: [ParseFixture] = [
        // Ctrl-C between two commands: IP and DO TIMING-MARK are answered in place, nothing glued.
        row(text("PING\r\n") + [iac, ip, iac, `do`, timingMark] + text("PING\r\n"),
            .request(.ping), .telnet([iac, will, timingMark]), .request(.ping)),
        // Options are refused; WONT and DONT are never answered.
        row([iac, `do`, echo], .telnet([iac, wont, echo])),
        row([iac, will, naws], .telnet([iac, dont, naws])),
        row([iac, wont, echo, iac, dont, echo, iac, wont, timingMark] + text("PING\n"), .request(.ping)),
        row([iac, `do`, echo, iac, will, suppressGoAhead, iac, `do`, timingMark],
            .telnet([iac, wont, echo, iac, dont, suppressGoAhead, iac, will, timingMark])),
        row(text("PI") + [iac, `do`, echo] + text("NG\n"), .telnet([iac, wont, echo]), .request(.ping)),
        row([iac, `do`, 10] + text("PING\n"), .telnet([iac, wont, 10]), .request(.ping)),  // an option byte that is '\n'
        row([iac, will, 255] + text("PING\n"), .telnet([iac, dont, 255]), .request(.ping)),
        // IP, AO and EL drop what was typed; the rest of the line is a line of its own.
        row(text("DROP orders") + [iac, ip] + text("PING\n"), .request(.ping)),
        row(text("DROP orders") + [iac, ao] + text("PING\n"), .request(.ping)),
        row(text("DROP orders") + [iac, el] + text("PING\r\n"), .request(.ping)),
        row(text("DROP orders") + [iac, ip, iac, `do`, timingMark] + text("\r\n"), .telnet([iac, will, timingMark])),
        // BS, DEL and EC erase the previous character, never past the line start.
        row(text("PINGX") + [bs] + text("\n"), .request(.ping)),
        row(text("PINGX") + [del] + text("\r\n"), .request(.ping)),
        row(text("PIMG") + [bs, bs] + text("NG\n"), .request(.ping)),
        row(text("PINGX") + [iac, ec] + text("\n"), .request(.ping)),
        row([bs, del, iac, ec] + text("PING\n"), .request(.ping)),
        row(text("X") + [bs, bs] + text("PING\n"), .request(.ping)),
        row(text("PING ") + [bs] + text("\r") + [bs] + text("\n"), .request(.ping)),
        // ... a whole UTF-8 character, or one byte of a broken one.
        row(text("PUB orders :é") + [bs] + text("x\n"), published(text("x"))),
        row(text("PUB orders :a€") + [del] + text("\n"), published(text("a"))),
        row(text("PUB orders :😀") + [bs] + text("\n"), published([])),
        row(text("PUB orders :😀😀") + [iac, ec] + text("\n"), published(text("😀"))),
        row(text("PUB orders :a") + [0x80, bs] + text("\n"), published(text("a"))),
        row(text("PUB orders :a") + [0xE2, 0x82, bs] + text("\n"), published([0x61, 0xE2])),
        row(text("PUB orders :a") + [0x80, 0x80, 0x80, 0x80, bs] + text("\n"), published([0x61, 0x80, 0x80, 0x80])),
        row(text("PUB orders :ab") + [bs, bs, bs] + text(":c\n"), published(text("c"))),
        // IAC IAC is the data byte 255, which the grammar then judges.
        row(text("PUB orders :a") + [iac, iac] + text("b\n"), published([0x61, 0xFF, 0x62])),
        row([iac, iac] + text("\n"), .failure(SpoolError(.unknownCommand, ""), closeConnection: false)),
        row(text("PUB orders :") + [iac, iac, bs] + text("x\n"), published(text("x"))),
        // Commands without an answer are removed.
        row(text("PI") + [iac, nop, iac, ga, iac, dm, iac, brk, iac, se, iac, 0x41] + text("NG\n"), .request(.ping)),
        row(text("PING\r") + [iac, nop] + text("\n"), .request(.ping)),
        row([iac, ayt], areYouThere),
        row(text("PI") + [iac, ayt] + text("NG\n"), areYouThere, .request(.ping)),
        // A subnegotiation is skipped whole, line ends, BS and IAC IAC inside it included.
        row(text("PI") + [iac, sb, naws, 0, 80, 0, 24, iac, se] + text("NG\n"), .request(.ping)),
        row([iac, sb, 24, 10, 13, bs, iac, iac, 10, iac, se] + text("PING\n"), .request(.ping)),
        row([iac, sb, 24, 1, iac, `do`, echo] + text("PING\n"), .telnet([iac, wont, echo]), .request(.ping)),
        // Byte-counted payloads are binary-safe: telnet bytes in them are data.
        row(text("PUB orders 5\nab") + [iac, 0x63, 0x64] + text("\n"), published([0x61, 0x62, 0xFF, 0x63, 0x64])),
        row(text("PUB orders 5\n") + [iac, ip, iac, `do`, timingMark] + text("\n"), published([iac, ip, iac, `do`, timingMark])),
        row(text("PUB orders 4\na") + [bs, del] + text("b\r\n"), published([0x61, bs, del, 0x62])),
        row(text("PUB orders") + [iac, nop] + text(" 3\n") + [iac, 0x41, 0x42] + text("\n"), published([0xFF, 0x41, 0x42])),
        row(text("PUB orders 20\n") + [iac, `do`, echo] + [UInt8](repeating: 0x41, count: 17) + text("\nPING\n"),
            .failure(SpoolError(.payloadTooLarge, ""), closeConnection: false), .request(.ping)),
    ]

    /// Rows about the line limit (64 bytes in the fixtures): it counts the line as sent.
    static let limitRows: [ParseFixture] = [
        row(text(String(repeating: "A", count: 60)) + [iac, nop, iac, nop] + text("\n"),
            .failure(SpoolError(.unknownCommand, ""), closeConnection: false)),
        row(text(String(repeating: "A", count: 60)) + [iac, nop, iac, nop, iac, nop] + text("\n"),
            .failure(SpoolError(.lineTooLong, ""), closeConnection: true)),
        row(text(String(repeating: "A", count: 63) + "\r") + [iac, nop] + text("\n"),
            .failure(SpoolError(.lineTooLong, ""), closeConnection: true)),
        // Past the limit nothing more of the line is read, so nothing in it is answered.
        row(text(String(repeating: "A", count: 65)) + [iac, `do`, echo] + text("\nPING\n"),
            .failure(SpoolError(.lineTooLong, ""), closeConnection: true)),
        row(text(String(repeating: "A", count: 62)) + [iac, `do`, echo, iac, `do`, echo] + text("\n"),
            .telnet([iac, wont, echo]), .failure(SpoolError(.lineTooLong, ""), closeConnection: true)),
        row(text(String(repeating: "A", count: 64)) + [bs] + text("\n"), .failure(SpoolError(.lineTooLong, ""), closeConnection: true)),
        row(text(String(repeating: "A", count: 40)) + [iac, ip] + text(String(repeating: "B", count: 30) + "\n"),
            .failure(SpoolError(.lineTooLong, ""), closeConnection: true)),
    ]

    @Test("parses whole and byte by byte", arguments: rows + limitRows)
    func parses(row: ParseFixture) {
        row.check()
    }

    @Test("split into two reads at every byte, the outcomes are the same", arguments: rows + limitRows)
    func everySplit(row: ParseFixture) {
        for split in 0...row.input.count {
            var parser = RequestParser(limits: row.limits)
            var buffer = ByteBuffer(bytes: row.input[..<split])
            var outcomes: [ParseOutcome] = []
            while let outcome = parser.next(from: &buffer) { outcomes.append(outcome) }
            buffer.writeBytes(row.input[split...])
            while let outcome = parser.next(from: &buffer) { outcomes.append(outcome) }
            #expect(ParseFixture.normalized(outcomes) == row.expected, "split at \(split)")
        }
    }

    @Test("rows sent one after another give their outcomes in order, from any chunking")
    func pipelined() {
        let input = Self.rows.flatMap(\.input)
        let expected = ParseFixture.mergingTelnet(Self.rows.flatMap(\.expected))
        for chunk in [1, 2, 3, 5, 7, 64, input.count] {
            #expect(ParseFixture.normalized(ParseFixture.feedChunked(input, chunk: chunk)) == expected, "chunk \(chunk)")
        }
    }

    @Test("a key holding 0xFF, written as KeyCodec renders it, comes back through a request line")
    func keyWithIACRoundTrips() {
        for key: [UInt8] in [[0x61, 0xFF], [0xFF, 0xF4], [0xFF, 0xFF, 0x20]] {
            let input = Self.text("PUB orders key=") + KeyCodec.render(key) + Self.text(" :v\n")
            let expected = PublishRequest(topic: topic("orders"), key: ByteBuffer(bytes: key), value: ByteBuffer(string: "v"))
            #expect(ParseFixture.feedWhole(input).outcomes == [.request(.publish(expected))], "key \(key)")
        }
    }

    @Test("a timing mark split after IAC is answered once its option byte arrives")
    func timingMarkAcrossReads() {
        var parser = RequestParser(limits: ParseFixture.limits)
        var buffer = ByteBuffer(bytes: Self.text("FETCH") + [Self.iac])
        #expect(parser.next(from: &buffer) == nil)
        // The IAC is read and remembered, not kept in the buffer.
        #expect(buffer.readableBytes == 5)
        buffer.writeBytes([Self.ip, Self.iac, Self.do])
        #expect(parser.next(from: &buffer) == nil)
        #expect(buffer.readableBytes == 0)
        buffer.writeBytes([Self.timingMark])
        #expect(parser.next(from: &buffer) == .telnet([Self.iac, Self.will, Self.timingMark]))
        buffer.writeBytes(Self.text("PING\n"))
        #expect(parser.next(from: &buffer) == .request(.ping))
    }
}

extension ParseFixture {
    /// Telnet answers are bytes on the wire: how reads split them into outcomes does not matter,
    /// so adjacent ones are joined before comparing.
    static func mergingTelnet(_ outcomes: [ParseOutcome]) -> [ParseOutcome] {
        var merged: [ParseOutcome] = []
        for outcome in outcomes {
            if case .telnet(let more) = outcome, case .telnet(let bytes)? = merged.last {
                merged[merged.count - 1] = .telnet(bytes + more)
            } else {
                merged.append(outcome)
            }
        }
        return merged
    }
}

/// What the broker may answer to telnet commands.
enum TelnetAnswers {
    /// True when `bytes` is a run of `IAC WONT x`, `IAC DONT x`, `IAC WILL TIMING-MARK` and the
    /// AYT line, and nothing else.
    static func isWellFormed(_ bytes: [UInt8]) -> Bool {
        let ayt = Array("[spool: yes]\n".utf8)
        var rest = bytes[...]
        while !rest.isEmpty {
            if rest.starts(with: ayt) {
                rest = rest.dropFirst(ayt.count)
                continue
            }
            guard rest.count >= 3, rest.first == 255 else { return false }
            let verb = rest[rest.startIndex + 1], option = rest[rest.startIndex + 2]
            guard verb == 252 || verb == 254 || (verb == 251 && option == 6) else { return false }
            rest = rest.dropFirst(3)
        }
        return !bytes.isEmpty
    }
}
