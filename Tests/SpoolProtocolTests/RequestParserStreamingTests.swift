import NIOCore
import SpoolCore
@testable import SpoolProtocol
import Testing

@Suite("RequestParser: streaming, payloads and limits")
struct RequestParserStreamingTests {
    @Test("a refused payload is skipped as it streams in, then the next request parses")
    func skipAcrossChunks() {
        let count = 1_000_000
        var parser = RequestParser(limits: ParseFixture.limits)
        var input = ByteBuffer(string: "PUB orders \(count)\r\n")
        #expect(ParseFixture.normalized([parser.next(from: &input)].compactMap { $0 })
            == [.failure(SpoolError(.payloadTooLarge, ""), closeConnection: false)])
        var sent = 0
        let chunk = [UInt8](repeating: UInt8(ascii: "\n"), count: 4093)  // line ends inside must not matter
        while sent < count {
            let size = min(chunk.count, count - sent)
            input.writeBytes(chunk[..<size])
            sent += size
            #expect(parser.next(from: &input) == nil)
            // Streaming: nothing of the payload is kept.
            #expect(input.readableBytes == 0)
        }
        input.writeString("\r")
        #expect(parser.next(from: &input) == nil)
        input.writeString("\nPI")
        #expect(parser.next(from: &input) == nil)
        input.writeString("NG\n")
        #expect(parser.next(from: &input) == .request(.ping))
        #expect(input.readableBytes == 0)
    }

    @Test("skipping works for every split of the input")
    func skipEverySplit() {
        // The 28 payload bytes hold line ends and requests that must not run.
        let input = Array("PUB orders 28\n0123456789\n\r\nPING\nXYZ\nDROP x\nPING\n".utf8)
        let expected: [ParseOutcome] = [
            .failure(SpoolError(.payloadTooLarge, ""), closeConnection: false), .request(.ping),
        ]
        for split in 0...input.count {
            var parser = RequestParser(limits: ParseFixture.limits)
            var buffer = ByteBuffer(bytes: input[..<split])
            var outcomes: [ParseOutcome] = []
            while let outcome = parser.next(from: &buffer) { outcomes.append(outcome) }
            buffer.writeBytes(input[split...])
            while let outcome = parser.next(from: &buffer) { outcomes.append(outcome) }
            #expect(ParseFixture.normalized(outcomes) == expected, "split at \(split)")
        }
    }

    @Test("binary payloads keep NUL, \\n and \\r, whatever the chunking")
    func binaryPayload() {
        let value: [UInt8] = [0, 10, 13, 10, 13, 0xFF, 0x80, 32, 10, 0]
        var input = Array("PUB orders key=base64:AA== \(value.count)\r\n".utf8) + value + Array("\r\n".utf8)
        input += Array("PUB orders \(value.count)\n".utf8) + value + [10]
        let request = Request.publish(PublishRequest(topic: topic("orders"), key: buffer([0]), value: buffer(value)))
        let plain = Request.publish(PublishRequest(topic: topic("orders"), value: buffer(value)))
        for chunk in 1...input.count {
            #expect(ParseFixture.feedChunked(input, chunk: chunk) == [.request(request), .request(plain)], "chunk \(chunk)")
        }
    }

    @Test("a payload of exactly payloadBytes is accepted, one more byte is refused")
    func payloadAtLimit() {
        let limit = ParseFixture.limits.payloadBytes
        let ok = Array("PUB orders \(limit)\n".utf8) + [UInt8](repeating: 65, count: limit) + [10]
        #expect(ParseFixture.feedWhole(ok).outcomes.count == 1)
        #expect(ParseFixture.feedWhole(ok).outcomes.first.map { if case .request = $0 { true } else { false } } == true)
        let inlineOK = "PUB orders :" + String(repeating: "A", count: limit) + "\n"
        #expect(ParseFixture.feedWhole(Array(inlineOK.utf8)).outcomes.first.map { if case .request = $0 { true } else { false } } == true)
    }

    @Test("an unterminated line is searched once, not once per read")
    func searchMemory() {
        var parser = RequestParser(limits: ParseFixture.limits)
        var input = ByteBuffer()
        for index in 1...40 {
            input.writeString("x")
            #expect(parser.next(from: &input) == nil)
            #expect(parser.searchedBytes == index)
        }
        input.writeString("\nPING\n")
        #expect(ParseFixture.normalized([parser.next(from: &input)].compactMap { $0 })
            == [.failure(SpoolError(.unknownCommand, ""), closeConnection: false)])
        #expect(parser.searchedBytes == 0)
        #expect(parser.next(from: &input) == .request(.ping))
    }

    @Test("a byte-counted PUB waits for its payload and consumes only its header meanwhile")
    func waitsForPayload() {
        var parser = RequestParser(limits: ParseFixture.limits)
        var input = ByteBuffer(string: "PUB orders 5\nhel")
        #expect(parser.next(from: &input) == nil)
        #expect(input.readableBytes == 3)
        input.writeString("lo")
        #expect(parser.next(from: &input) == nil)
        input.writeString("\r")
        #expect(parser.next(from: &input) == nil)
        input.writeString("\nPING\n")
        #expect(parser.next(from: &input) == .request(.publish(PublishRequest(topic: topic("orders"), value: buffer("hello")))))
        #expect(parser.next(from: &input) == .request(.ping))
    }
}
