import NIOCore
import SpoolCore
import SpoolProtocol
import Testing

@Suite("RequestParser: requests that fail")
struct RequestParserFailureTests {
    static let rows: [ParseFixture] = [
        .failure("FOO\n", .unknownCommand, close: false),
        .failure("PUBX orders :x\n", .unknownCommand, close: false),
        .failure("p\u{131}ng\n", .unknownCommand, close: false),  // only ASCII letters fold: dotless i is not i
        .failure("PUB orders \u{212A}ey=a :x\n", .badArgument, close: false),  // nor does the Kelvin sign
        .failure(":hello\n", .unknownCommand, close: false),
        .failure("PING extra\n", .badArgument, close: false),
        .failure("PING x=1\n", .badArgument, close: false),
        .failure("TOPICS :x\n", .badArgument, close: false),
        .failure("STATS 5\n", .badArgument, close: false),
        .failure("METADATA a b\n", .badArgument, close: false),
        .failure("METADATA bad/name\n", .badArgument, close: false),
        .failure("METADATA topic=a\n", .badArgument, close: false),
        .failure("METADATA :a\n", .badArgument, close: false),
        .failure("VERIFY\n", .badArgument, close: false),
        .failure("VERIFY orders -1\n", .badArgument, close: false),
        .failure("VERIFY orders 0 1\n", .badArgument, close: false),
        .failure("VERIFY orders partition=0\n", .badArgument, close: false),
        .failure("VERIFY bad/name\n", .badArgument, close: false),
        .failure("CREATE\n", .badArgument, close: false),
        .failure("CREATE bad/name\n", .badArgument, close: false),
        .failure("CREATE ..\n", .badArgument, close: false),
        .failure("CREATE thirteen-long\n", .badArgument, close: false),
        .failure("CREATE orders partitions=0\n", .badArgument, close: false),
        .failure("CREATE orders partitions=9\n", .badArgument, close: false),
        .failure("CREATE orders partitions=\n", .badArgument, close: false),
        .failure("CREATE orders partitions=1 partitions=1\n", .badArgument, close: false),
        .failure("CREATE orders replication=0\n", .badArgument, close: false),
        .failure("CREATE orders replication=256\n", .badArgument, close: false),
        .failure("CREATE orders retention=3\n", .badArgument, close: false),
        .failure("CREATE orders =3\n", .badArgument, close: false),
        .failure("CREATE orders extra\n", .badArgument, close: false),
        // Only PUB takes a payload: the next line is a request of its own.
        ParseFixture(input: Array("CREATE orders 5\nhello\n".utf8), expected: [
            .failure(SpoolError(.badArgument, ""), closeConnection: false),
            .failure(SpoolError(.unknownCommand, ""), closeConnection: false),
        ]),
        .failure("DESCRIBE\n", .badArgument, close: false),
        .failure("DROP a b\n", .badArgument, close: false),
        .failure("FETCH orders 0\n", .badArgument, close: false),
        .failure("FETCH orders -1 0\n", .badArgument, close: false),
        .failure("FETCH orders 2147483648 0\n", .badArgument, close: false),
        .failure("FETCH orders 0 first\n", .badArgument, close: false),
        .failure("FETCH orders 0 -3\n", .badArgument, close: false),
        .failure("FETCH orders 0 9223372036854775808\n", .badArgument, close: false),
        .failure("FETCH orders 0 0 max=0\n", .badArgument, close: false),
        .failure("FETCH orders 0 0 wait=1001\n", .badArgument, close: false),
        .failure("FETCH orders 0 0 wait=-1\n", .badArgument, close: false),
        .failure("FETCH orders 0 0 timeout=5\n", .badArgument, close: false),
        .failure("FETCH orders 0 0 :x\n", .badArgument, close: false),
        .failure("OFFSETS orders\n", .badArgument, close: false),
        .failure("OFFSETS orders 0 time=yesterday\n", .badArgument, close: false),
        .failure("SUB orders from=start\n", .badArgument, close: false),
        .failure("SUB orders group=bad/name\n", .badArgument, close: false),
        .failure("SUB orders group=billing from=5\n", .badArgument, close: false),
        .failure("SUB orders commit=manual\n", .badArgument, close: false),
        .failure("SUB orders group=g session=10\n", .badArgument, close: false),
        .failure("COMMIT orders 0\n", .badArgument, close: false),
        .failure("GROUP\n", .badArgument, close: false),
        .failure("UNSUB a b\n", .badArgument, close: false),
        .failure("HELP a b\n", .badArgument, close: false),
        // PUB: header problems with an inline value.
        .failure("PUB\n", .badRequest, close: false),
        .failure("PUB orders\n", .badRequest, close: false),
        .failure("PUB orders hello\n", .badRequest, close: false),
        .failure("PUB orders key=a\n", .badRequest, close: false),
        .failure("PUB :x\n", .badArgument, close: false),
        .failure("PUB bad/name :x\n", .badArgument, close: false),
        .failure("PUB orders extra :x\n", .badArgument, close: false),
        .failure("PUB orders key=base64:AB :x\n", .badArgument, close: false),
        .failure("PUB orders key=base64:A=== :x\n", .badArgument, close: false),
        .failure("PUB orders key=123456789 :x\n", .badArgument, close: false),
        .failure("PUB orders key=base64:AAAAAAAAAAAA :x\n", .badArgument, close: false),
        .failure("PUB orders key= :x\n", .badArgument, close: false),
        .failure("PUB orders partition=-1 :x\n", .badArgument, close: false),
        .failure("PUB orders acks=2 :x\n", .badArgument, close: false),
        .failure("PUB orders acks=1 acks=1 :x\n", .badArgument, close: false),
        .failure("PUB orders ttl=5 :x\n", .badArgument, close: false),
        .failure("PUB orders :0123456789abcdefX\n", .payloadTooLarge, close: false),
        // PUB: byte-counted; the payload is skipped after any failure so it never runs as a request.
        .failure("PUB orders 17\nDROP orders     X\n", .payloadTooLarge, close: false),
        .failure("PUB orders 17\r\nDROP orders     X\r\n", .payloadTooLarge, close: false),
        .failure("PUB bad/name 11\nDROP orders\n", .badArgument, close: false),
        .failure("PUB orders ttl=1 11\nDROP orders\n", .badArgument, close: false),
        .failure("PUB 11\nDROP orders\n", .badArgument, close: false),
        // PUB: a botched count or payload end closes the connection.
        .failure("PUB orders 12x\nDROP orders\n", .badRequest, close: true),
        .failure("PUB orders -5\nDROP orders\n", .badRequest, close: true),
        .failure("PUB orders +3\nabc\n", .badRequest, close: true),
        .failure("PUB orders 99999999999999999999\nDROP orders\n", .badRequest, close: true),
        .failure("PUB orders 5 acks=all\nhello\n", .badRequest, close: true),
        .failure("PUB orders 5\nhelloDROP orders\n", .badPayload, close: true),
        .failure("PUB orders 5\nhello\rDROP orders\n", .badPayload, close: true),
        ParseFixture(input: Array("PUB orders 17\n0123456789abcdefXDROP orders\n".utf8), expected: [
            .failure(SpoolError(.payloadTooLarge, ""), closeConnection: false),
            .failure(SpoolError(.badPayload, ""), closeConnection: true),
        ]),
        // Lines longer than lineBytes (64) close the connection.
        .failure(String(repeating: "A", count: 65) + "\n", .lineTooLong, close: true),
        .failure("PUB orders :" + String(repeating: "x", count: 60) + "\r\nPING\n", .lineTooLong, close: true),
    ]

    @Test("fails with the right code and close flag, whole and byte by byte", arguments: rows)
    func fails(row: ParseFixture) {
        row.check()
    }

    @Test("a line of exactly lineBytes is accepted, with either line end")
    func lineAtLimit() {
        let body = "PING" + String(repeating: " \t", count: 30)
        #expect(body.utf8.count == ParseFixture.limits.lineBytes)
        for end in ["\n", "\r\n"] {
            let (outcomes, _) = ParseFixture.feedWhole(Array((body + end).utf8))
            #expect(outcomes.count == 1)
            #expect(outcomes.first.map { if case .request = $0 { true } else { false } } == true)
        }
    }

    @Test("LINE_TOO_LONG is reported before the line end arrives")
    func lineTooLongEarly() {
        var parser = RequestParser(limits: ParseFixture.limits)
        // 65 bytes ending in '\r' could still be 64 bytes + "\r\n": wait.
        var input = ByteBuffer(string: String(repeating: "A", count: 64) + "\r")
        #expect(parser.next(from: &input) == nil)
        input.writeString("A")
        #expect(ParseFixture.normalized([parser.next(from: &input)].compactMap { $0 })
            == [.failure(SpoolError(.lineTooLong, ""), closeConnection: true)])
    }

    @Test("after a closing failure the parser runs nothing more")
    func closedParserDiscards() {
        var parser = RequestParser(limits: ParseFixture.limits)
        var input = ByteBuffer(string: "PUB orders 1x\nPING\n")
        guard case .failure(_, closeConnection: true)? = parser.next(from: &input) else {
            Issue.record("expected a closing failure")
            return
        }
        input.writeString("PING\nPING\n")
        #expect(parser.next(from: &input) == nil)
        #expect(input.readableBytes == 0)
    }

    @Test("error messages name the problem and the usage")
    func messages() {
        func message(_ line: String) -> String {
            var parser = RequestParser(limits: ParseFixture.limits)
            var input = ByteBuffer(string: line)
            guard case .failure(let error, _)? = parser.next(from: &input) else { return "" }
            return error.message
        }
        #expect(message("CREATE orders colour=red\n").contains("unknown option 'colour=red'"))
        #expect(message("CREATE orders colour=red\n").contains("usage: CREATE <topic> [partitions=N]"))
        #expect(message("FETCH orders 0 0 max=0\n").contains("max must be"))
        #expect(message("PUB orders hello\n").contains("PUB needs :<text> or a byte count"))
        #expect(message("CREATE bad\u{01}name\n").contains("'bad\\x01name'"))
        #expect(message("FOO\n").contains("'FOO'"))
    }
}
