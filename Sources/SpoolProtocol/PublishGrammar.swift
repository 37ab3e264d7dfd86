import NIOCore
import SpoolCore

/// The grammar of `PUB <topic> [key=<k>] [partition=<p>] [acks=...] (:<text> | <nbytes>)`.
///
/// The order of checks matters for safety: the byte count is read first, so that every later
/// error in a byte-counted `PUB` still skips the payload and a payload is never read as requests.
enum PublishGrammar {
    static let verb = "PUB"

    /// `topics` remembers the last topic name, so a producer's stream of `PUB`s to one topic
    /// validates and allocates its name once, not once per record.
    static func parse(_ line: RequestLine, limits: SpoolLimits, topics: inout TopicCache) -> LineParse {
        let args = line.tokens.dropFirst()
        if let colon = args.firstIndex(where: { line.first($0) == UInt8(ascii: ":") }) {
            return inline(line, header: args[..<colon], payloadToken: args[colon], limits: limits, topics: &topics)
        }
        guard let last = args.last else { return needsPayload() }
        guard line.isDigits(last) else {
            if line.looksNumeric(last) {
                return botchedCount(line, last)
            }
            // A count-like token that is not last (`PUB t 5 acks=all`) may still be followed by a
            // payload we cannot delimit; closing is the only way not to run it as requests.
            for token in args.dropFirst().dropLast() where line.equalsIndex(token) == nil && line.looksNumeric(token) {
                return .failure(
                    SpoolError(.badRequest, "the byte count must be the last token of PUB, not \(line.quoted(token)); closing"),
                    closeConnection: true)
            }
            return needsPayload()
        }
        guard let count64 = line.unsigned(last), let count = Int(exactly: count64), count < Int.max - 2 else {
            return botchedCount(line, last)
        }
        switch header(line, tokens: args.dropLast(), limits: limits, topics: &topics) {
        case .failure(let error):
            return .skipPayload(error, count: count)
        case .success(let request):
            guard count <= limits.payloadBytes else {
                return .skipPayload(tooLarge(count, limits: limits), count: count)
            }
            return .awaitPayload(request, count: count)
        }
    }

    private static func inline(
        _ line: RequestLine, header tokens: ArraySlice<Range<Int>>, payloadToken: Range<Int>, limits: SpoolLimits,
        topics: inout TopicCache
    ) -> LineParse {
        switch header(line, tokens: tokens, limits: limits, topics: &topics) {
        case .failure(let error):
            return .failure(error, closeConnection: false)
        case .success(var request):
            // The value is every byte after the ':' up to the line end, blanks included.
            let start = payloadToken.lowerBound + 1
            let count = line.bytes.readableBytes - start
            guard count <= limits.payloadBytes else {
                return .failure(tooLarge(count, limits: limits), closeConnection: false)
            }
            request.value = line.bytes.getSlice(at: start, length: count)!
            return .request(.publish(request))
        }
    }

    /// Topic and options; the value is filled in by the caller.
    private static func header(
        _ line: RequestLine, tokens: ArraySlice<Range<Int>>, limits: SpoolLimits, topics: inout TopicCache
    ) -> Result<PublishRequest, SpoolError> {
        let args: QuickArguments
        if let quick = QuickArguments(line, tokens: tokens) {
            args = quick
        } else {
            // Anything unusual (repeats, unknown options, missing values...) takes the general
            // path, which also words the error.
            switch CommandGrammar.collect(line, verb: verb, tokens: tokens, positionals: 1...1, options: ["key", "partition", "acks"]) {
            case .success(let collected):
                args = QuickArguments(
                    topic: collected.positionals[0], key: collected.options["key"], partition: collected.options["partition"],
                    acks: collected.options["acks"])
            case .failure(let error): return .failure(error)
            }
        }
        var request: PublishRequest
        switch topics.topic(line, args.topic, limits: limits) {
        case .success(let topic): request = PublishRequest(topic: topic, value: ByteBuffer())
        case .failure(let error): return .failure(error)
        }
        if let range = args.key {
            switch key(line, range, limits: limits) {
            case .success(let key): request.key = key
            case .failure(let error): return .failure(error)
            }
        }
        if let range = args.partition {
            switch CommandGrammar.partition(line, range, verb: verb) {
            case .success(let partition): request.partition = partition
            case .failure(let error): return .failure(error)
            }
        }
        if let range = args.acks {
            // Compared in place: no String per record for producers that send acks= every time.
            if line.isWord(range, "none") || line.isWord(range, "0") {
                request.acks = .none
            } else if line.isWord(range, "leader") || line.isWord(range, "1") {
                request.acks = .leader
            } else if line.isWord(range, "all") || line.isWord(range, "-1") {
                request.acks = .all
            } else {
                return .failure(CommandGrammar.badArgument(verb, "acks must be none, leader, all, 0, 1 or -1, not \(line.quoted(range))"))
            }
        }
        return .success(request)
    }

    /// `key=<token>`: the token's bytes (a slice, no copy); `key=base64:<b64>`: decoded; `key=-`:
    /// no key. The same tokens `KeyCodec` renders, so keys from `MSG` can be sent back as they are.
    private static func key(_ line: RequestLine, _ range: Range<Int>, limits: SpoolLimits) -> Result<ByteBuffer?, SpoolError> {
        let token = line.bytes.readableBytesView[range]
        guard token.starts(with: KeyCodec.base64Prefix) || token.elementsEqual(KeyCodec.absentToken) else {
            guard range.count <= limits.keyBytes else { return .failure(keyTooLong(range.count, limits: limits)) }
            return .success(line.bytes.getSlice(at: range.lowerBound, length: range.count))
        }
        let decoded: [UInt8]?
        do {
            decoded = try KeyCodec.parse(token)
        } catch {
            return .failure(CommandGrammar.badArgument(verb, "key=base64: needs standard padded base64, not \(line.quoted(range))"))
        }
        guard let decoded else { return .success(nil) }
        guard decoded.count <= limits.keyBytes else { return .failure(keyTooLong(decoded.count, limits: limits)) }
        return .success(ByteBuffer(bytes: decoded))
    }

    private static func keyTooLong(_ count: Int, limits: SpoolLimits) -> SpoolError {
        CommandGrammar.badArgument(verb, "key is \(count) bytes, more than the limit of \(limits.keyBytes)")
    }

    private static func needsPayload() -> LineParse {
        .failure(
            SpoolError(.badRequest, "PUB needs :<text> or a byte count; usage: \(HelpText.usage(verb))"),
            closeConnection: false)
    }

    private static func botchedCount(_ line: RequestLine, _ token: Range<Int>) -> LineParse {
        .failure(
            SpoolError(.badRequest, "bad byte count \(line.quoted(token)); cannot find the end of the payload, closing"),
            closeConnection: true)
    }

    private static func tooLarge(_ count: Int, limits: SpoolLimits) -> SpoolError {
        SpoolError(.payloadTooLarge, "payload is \(count) bytes, more than the limit of \(limits.payloadBytes)")
    }
}
