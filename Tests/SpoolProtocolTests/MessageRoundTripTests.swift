import NIOCore
import SpoolCore
import SpoolProtocol
import Testing

@Suite("MessageRenderer and ReplyParser")
struct MessageRoundTripTests {
    static func render(offset: Int64, timestamp: Int64, key: [UInt8]?, value: [UInt8], into buffer: inout ByteBuffer, renderer: MessageRenderer) {
        value.withUnsafeBytes { valueBytes in
            if let key {
                key.withUnsafeBytes { keyBytes in
                    renderer.render(RecordView(offset: Offset(offset), timestamp: TimestampMs(timestamp), key: keyBytes, value: valueBytes), into: &buffer)
                }
            } else {
                renderer.render(RecordView(offset: Offset(offset), timestamp: TimestampMs(timestamp), key: nil, value: valueBytes), into: &buffer)
            }
        }
    }

    @Test("renders the documented MSG format byte for byte")
    func exactBytes() {
        let renderer = MessageRenderer(topic: topic("orders"), partition: PartitionID(1))
        var out = ByteBuffer()
        Self.render(offset: 0, timestamp: 1_764_072_000_123, key: Array("user-42".utf8), value: Array("{\"item\":\"book\"}".utf8), into: &out, renderer: renderer)
        Self.render(offset: 9_223_372_036_854_775_807, timestamp: 0, key: nil, value: [], into: &out, renderer: renderer)
        Self.render(offset: 10, timestamp: -5, key: [0, 1], value: [0, 10, 13], into: &out, renderer: renderer)
        let expected = Array("MSG orders 1 0 1764072000123 user-42 15\n{\"item\":\"book\"}\n".utf8)
            + Array("MSG orders 1 9223372036854775807 0 - 0\n\n".utf8)
            + Array("MSG orders 1 10 -5 base64:AAE= 3\n".utf8) + [0, 10, 13, 10]
        #expect(out.readableBytesView.elementsEqual(expected))
        #expect(MessageRenderer.prefix(topic: topic("t"), partition: PartitionID(7)) == Array("MSG t 7 ".utf8))
    }

    @Test("rendered records parse back to the same fields, from any chunking")
    func roundTrip() throws {
        var random = SplitMix64(seed: 7)
        let renderer = MessageRenderer(topic: topic("events.v2"), partition: PartitionID(3))
        var wire = ByteBuffer()
        var expected: [ReplyFrame] = []
        for index in 0..<300 {
            let key: [UInt8]? = index % 3 == 0 ? nil : random.bytes(Int.random(in: 0...20, using: &random))
            let value = random.bytes(Int.random(in: 0...300, using: &random))
            let offset = Int64(index) * 1_000_003
            let timestamp = 1_764_072_000_000 + Int64(index)
            Self.render(offset: offset, timestamp: timestamp, key: key, value: value, into: &wire, renderer: renderer)
            expected.append(.message(Message(
                topic: "events.v2", partition: PartitionID(3), offset: Offset(offset), timestamp: TimestampMs(timestamp),
                key: key, value: ByteBuffer(bytes: value))))
            if index % 50 == 0 {
                wire.writeString("END events.v2 3 next=\(offset + 1) high=\(offset + 1)\r\n")
                expected.append(.line("END events.v2 3 next=\(offset + 1) high=\(offset + 1)"))
            }
        }
        let bytes = Array(wire.readableBytesView)
        for chunk in [1, 5, 97, 4096, bytes.count] {
            var parser = ReplyParser()
            var input = ByteBuffer()
            var frames: [ReplyFrame] = []
            var index = 0
            while index < bytes.count {
                input.writeBytes(bytes[index..<min(index + chunk, bytes.count)])
                index += chunk
                while let frame = try parser.next(from: &input) { frames.append(frame) }
            }
            #expect(frames == expected, "chunk \(chunk)")
            #expect(input.readableBytes == 0)
        }
    }

    @Test("plain reply lines come back without their line ends")
    func lines() throws {
        var parser = ReplyParser()
        var input = ByteBuffer(string: "PONG\r\nOK orders 1 0\n\nMSGX a\nERR BAD_ARGUMENT no\n")
        var frames: [ReplyFrame] = []
        while let frame = try parser.next(from: &input) { frames.append(frame) }
        #expect(frames == [.line("PONG"), .line("OK orders 1 0"), .line(""), .line("MSGX a"), .line("ERR BAD_ARGUMENT no")])
    }

    @Test(
        "malformed MSG headers, bad payload ends and long lines throw",
        arguments: [
            ("MSG orders 1 0 5 - \n", ReplyParseError.Kind.malformedMessageHeader),
            ("MSG orders x 0 5 - 1\na\n", .malformedMessageHeader),
            ("MSG orders 1 -1 5 - 1\na\n", .malformedMessageHeader),
            ("MSG orders 1 0 5 base64:A 1\na\n", .malformedMessageHeader),
            ("MSG orders 1 0 5 - 1x\na\n", .malformedMessageHeader),
            ("MSG orders 1 0 5 - 1 extra\na\n", .malformedMessageHeader),
            ("MSG orders 1 0 5 - 2\nabc\n", .badPayloadEnd),
            ("MSG orders 1 0 5 - 2\nab\rc\n", .badPayloadEnd),
            ("MSG orders 1 0 5 - 99\n", .payloadTooLarge),
            (String(repeating: "x", count: 33), .lineTooLong),
            (String(repeating: "x", count: 33) + "\n", .lineTooLong),
        ])
    func throwsOnBadInput(input: String, kind: ReplyParseError.Kind) {
        var parser = ReplyParser(maxLineBytes: 32, maxPayloadBytes: 10)
        var buffer = ByteBuffer(string: input)
        do {
            while try parser.next(from: &buffer) != nil {}
            Issue.record("no error for \(input.debugDescription)")
        } catch let error as ReplyParseError {
            #expect(error.kind == kind)
            // The stream cannot be resynchronised: the parser keeps failing.
            buffer.writeString("PONG\n")
            #expect(throws: ReplyParseError.self) { try parser.next(from: &buffer) }
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("a line of exactly maxLineBytes ending in \\r waits for its \\n")
    func lineAtLimit() throws {
        var parser = ReplyParser(maxLineBytes: 4, maxPayloadBytes: 10)
        var buffer = ByteBuffer(string: "PONG\r")
        #expect(try parser.next(from: &buffer) == nil)
        buffer.writeString("\n")
        #expect(try parser.next(from: &buffer) == .line("PONG"))
    }
}
