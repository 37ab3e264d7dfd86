import NIOCore
import SpoolCore
import SpoolProtocol
import Testing

/// A deterministic fuzzer over `RequestParser`, in the spirit of swift-nio-imap's NIOIMAPFuzzer:
/// fixture inputs mutated and spliced with a seeded generator, fed whole and in random chunks.
@Suite("RequestParser fuzz")
struct RequestParserFuzzTests {
    static let seed: UInt64 = 0x5B00_1F00_D
    static let rounds = 20_000

    static let corpus: [[UInt8]] =
        (RequestParserSuccessTests.rows + RequestParserFailureTests.rows + RequestParserTelnetTests.rows
            + RequestParserTelnetTests.limitRows).map(\.input)
        + ["PUB t 3\n", "PUB t 20\n", "key=base64:", "\r\n", "\n", " ", ":", "-1", "99999999999999999999", "\r"].map { Array($0.utf8) }
        + telnetPieces

    /// Telnet commands and erasures, whole and cut short, to splice anywhere.
    static let telnetPieces: [[UInt8]] = [
        [255], [255, 255], [255, 244], [255, 253, 6], [255, 253], [255, 251, 1], [255, 252, 1], [255, 246], [255, 247],
        [255, 250, 31, 0, 80], [255, 250, 24, 10, 255, 255, 255, 240], [255, 240], [8], [127], [0xC3, 0xA9, 8],
    ]

    @Test("never crashes, always progresses, outcomes are well-formed and independent of chunking", .timeLimit(.minutes(1)))
    func fuzz() {
        var random = SplitMix64(seed: Self.seed)
        let limits = ParseFixture.limits
        for round in 0..<Self.rounds {
            let input = Self.mutated(&random)
            let whole = Self.run(input, limits: limits, chunks: [input.count], round: round)
            var chunks: [Int] = []
            var total = 0
            while total < input.count {
                let size = Int.random(in: 1...32, using: &random)
                chunks.append(size)
                total += size
            }
            let chunked = Self.run(input, limits: limits, chunks: chunks, round: round)
            #expect(ParseFixture.mergingTelnet(whole) == ParseFixture.mergingTelnet(chunked), "seed \(Self.seed) round \(round): chunking changed the outcomes")
        }
    }

    /// Feeds `input` in `chunks`, checking the invariants after every call.
    static func run(_ input: [UInt8], limits: SpoolLimits, chunks: [Int], round: Int) -> [ParseOutcome] {
        var parser = RequestParser(limits: limits)
        var buffer = ByteBuffer()
        var outcomes: [ParseOutcome] = []
        var closed = false
        var index = 0
        for size in chunks {
            buffer.writeBytes(input[index..<min(index + size, input.count)])
            index += size
            while true {
                let before = buffer.readableBytes
                guard let outcome = parser.next(from: &buffer) else { break }
                // Progress: an outcome always consumes bytes, so this loop ends. (Telnet editing
                // may remove them at the writer end, so the count is what shrinks.)
                #expect(buffer.readableBytes < before, "round \(round): outcome without progress")
                #expect(!closed, "round \(round): outcome after a closing failure")
                check(outcome, limits: limits, round: round)
                if case .failure(_, closeConnection: true) = outcome { closed = true }
                outcomes.append(outcome)
                if outcomes.count > input.count { return outcomes }
            }
            // Bounded buffering: at most one partial line or one pending payload is kept.
            #expect(buffer.readableBytes <= max(limits.lineBytes, limits.payloadBytes) + 1, "round \(round)")
        }
        return outcomes
    }

    static func check(_ outcome: ParseOutcome, limits: SpoolLimits, round: Int) {
        switch outcome {
        case .failure(let error, let close):
            #expect(!error.message.isEmpty && !error.message.contains(where: \.isNewline), "round \(round)")
            let closing: Set<ErrorCode> = [.badRequest, .badPayload, .lineTooLong]
            #expect(!close || closing.contains(error.code), "round \(round): \(error.code) closed")
            #expect(close || ![.badPayload, .lineTooLong].contains(error.code), "round \(round): \(error.code) kept open")
        case .telnet(let answer):
            #expect(TelnetAnswers.isWellFormed(answer), "round \(round): telnet answer \(answer)")
        case .request(let request):
            switch request {
            case .create(_, let partitions, let replication):
                #expect((1...limits.partitionsPerTopic).contains(partitions))
                #expect((1...SpoolLimits.maxReplication).contains(replication ?? 1))
            case .publish(let publish):
                #expect(publish.value.readableBytes <= limits.payloadBytes, "round \(round)")
                #expect((publish.key?.readableBytes ?? 0) <= limits.keyBytes, "round \(round)")
                #expect(publish.topic.value.utf8.count <= limits.topicNameBytes)
            case .fetch(let fetch):
                #expect((fetch.maxRecords ?? 1) >= 1 && (0...limits.fetchWaitMs).contains(fetch.waitMs))
            default:
                break
            }
        }
    }

    /// A corpus entry, mutated a few times, sometimes spliced with another.
    static func mutated(_ random: inout SplitMix64) -> [UInt8] {
        var bytes = corpus.randomElement(using: &random)!
        for _ in 0..<Int.random(in: 0...4, using: &random) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<8, using: &random) {
            case 0 where !bytes.isEmpty:
                bytes[position] = UInt8.random(in: 0...255, using: &random)
            case 1:
                bytes.insert([10, 13, 32, 58, 61, 48, 57, 45].randomElement(using: &random)!, at: position)
            case 2 where !bytes.isEmpty:
                bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...8, using: &random)))
            case 3:
                bytes += corpus.randomElement(using: &random)!
            case 4:
                bytes.insert(contentsOf: String(Int.random(in: 0...40, using: &random)).utf8, at: position)
            case 5 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...16, using: &random))
                bytes.insert(contentsOf: bytes[position..<end], at: position)
            case 6:
                bytes.insert(contentsOf: telnetPieces.randomElement(using: &random)!, at: position)
            default:
                bytes.insert(contentsOf: random.bytes(Int.random(in: 1...4, using: &random)), at: position)
            }
        }
        return bytes
    }
}
