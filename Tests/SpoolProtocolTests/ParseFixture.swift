import NIOCore
import SpoolCore
import SpoolProtocol
import Testing

/// One parser table row, in the style of swift-nio-imap's `ParseFixture`: an input and the
/// outcomes it must produce, checked fed whole, fed byte by byte, and cut short.
struct ParseFixture: Sendable, CustomTestStringConvertible {
    var input: [UInt8]
    var expected: [ParseOutcome]
    var limits: SpoolLimits = ParseFixture.limits

    /// Small limits so the tests reach them with small inputs.
    static let limits: SpoolLimits = {
        var limits = SpoolLimits()
        limits.lineBytes = 64
        limits.payloadBytes = 16
        limits.keyBytes = 8
        limits.partitionsPerTopic = 8
        limits.topicNameBytes = 12
        limits.fetchWaitMs = 1000
        return limits
    }()

    var testDescription: String { String(decoding: input, as: UTF8.self).debugDescription }

    static func success(_ input: String, _ requests: Request...) -> ParseFixture {
        ParseFixture(input: Array(input.utf8), expected: requests.map { .request($0) })
    }

    static func failure(_ input: String, _ code: ErrorCode, close: Bool) -> ParseFixture {
        ParseFixture(input: Array(input.utf8), expected: [.failure(SpoolError(code, ""), closeConnection: close)])
    }

    /// Feeds the whole input at once; returns the outcomes and the bytes left unconsumed.
    static func feedWhole(_ input: [UInt8], limits: SpoolLimits = limits) -> (outcomes: [ParseOutcome], left: Int) {
        var parser = RequestParser(limits: limits)
        var buffer = ByteBuffer(bytes: input)
        var outcomes: [ParseOutcome] = []
        while let outcome = parser.next(from: &buffer) { outcomes.append(outcome) }
        return (outcomes, buffer.readableBytes)
    }

    /// Feeds the input in chunks of `chunk` bytes into one cumulative buffer, draining after each.
    static func feedChunked(_ input: [UInt8], chunk: Int, limits: SpoolLimits = limits) -> [ParseOutcome] {
        var parser = RequestParser(limits: limits)
        var buffer = ByteBuffer()
        var outcomes: [ParseOutcome] = []
        var index = 0
        while index < input.count {
            buffer.writeBytes(input[index..<min(index + chunk, input.count)])
            index += chunk
            while let outcome = parser.next(from: &buffer) { outcomes.append(outcome) }
        }
        return outcomes
    }

    /// Failure messages are prose; rows compare code and close flag only. Adjacent telnet
    /// answers are joined (`mergingTelnet`).
    static func normalized(_ outcomes: [ParseOutcome]) -> [ParseOutcome] {
        mergingTelnet(outcomes).map {
            if case .failure(let error, let close) = $0 { return .failure(SpoolError(error.code, ""), closeConnection: close) }
            return $0
        }
    }

    /// Runs every check of the row.
    func check(sourceLocation: SourceLocation = #_sourceLocation) {
        let whole = Self.feedWhole(input, limits: limits)
        #expect(Self.normalized(whole.outcomes) == expected, "whole", sourceLocation: sourceLocation)
        #expect(whole.left == 0, "whole input consumed", sourceLocation: sourceLocation)
        let bytewise = Self.feedChunked(input, chunk: 1, limits: limits)
        #expect(Self.normalized(bytewise) == expected, "byte by byte", sourceLocation: sourceLocation)
        for outcome in whole.outcomes {
            if case .failure(let error, _) = outcome {
                #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
                #expect(!error.message.contains(where: { $0.isNewline }), sourceLocation: sourceLocation)
            }
        }
    }

    /// For a row of one request: every strict prefix returns nothing.
    func checkPrefixesNeedMoreData(sourceLocation: SourceLocation = #_sourceLocation) {
        for cut in 0..<input.count {
            let (outcomes, _) = Self.feedWhole(Array(input[..<cut]), limits: limits)
            #expect(outcomes.isEmpty, "prefix of \(cut) bytes", sourceLocation: sourceLocation)
        }
    }
}

func topic(_ name: String) -> TopicName { TopicName(name)! }
func buffer(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }
func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }
