import NIOCore
import SpoolCore

/// What the grammar makes of one request line; `RequestParser` turns it into framing actions.
enum LineParse {
    case request(Request)
    case failure(SpoolError, closeConnection: Bool)
    /// A valid `PUB` header whose `count` value bytes follow the line.
    case awaitPayload(PublishRequest, count: Int)
    /// A byte-counted `PUB` that fails: answer `error` now, then discard `count` bytes and a line end
    /// so the payload is never read as requests.
    case skipPayload(SpoolError, count: Int)
}

/// The positional arguments and `name=value` options of a line, checked against what a command accepts.
struct Arguments {
    var positionals: [Range<Int>] = []
    /// Option name (lower case) to the range of its value.
    var options: [String: Range<Int>] = [:]
}

/// The grammar of every command but `PUB` (`PublishGrammar`, which `RequestParser` calls
/// directly with the connection's topic cache).
enum CommandGrammar {
    static func parse(_ line: RequestLine, limits: SpoolLimits) -> LineParse {
        let verb = line.upper(line.tokens[0])
        let args = line.tokens.dropFirst()
        guard HelpText.help(for: verb) != nil else {
            return .failure(
                SpoolError(.unknownCommand, "unknown command \(line.quoted(line.tokens[0])); try HELP"),
                closeConnection: false)
        }
        switch parseArguments(line, verb: verb, tokens: args, limits: limits) {
        case .success(let request): return .request(request)
        case .failure(let error): return .failure(error, closeConnection: false)
        }
    }

    private static func parseArguments(
        _ line: RequestLine, verb: String, tokens: ArraySlice<Range<Int>>, limits: SpoolLimits
    ) -> Result<Request, SpoolError> {
        for token in tokens where line.first(token) == UInt8(ascii: ":") {
            return .failure(badArgument(verb, "\(verb) takes no ':' payload"))
        }
        switch verb {
        case "PING", "TOPICS", "STATS", "QUIT", "GROUPS":
            return collect(line, verb: verb, tokens: tokens, positionals: 0...0, options: []).map { _ in
                switch verb {
                case "PING": .ping
                case "TOPICS": .topics
                case "STATS": .stats
                case "GROUPS": .groups
                default: .quit
                }
            }
        case "CREATE":
            return collect(line, verb: verb, tokens: tokens, positionals: 1...1, options: ["partitions", "replication"]).flatMap { args in
                topic(line, args.positionals[0], verb: verb, limits: limits).flatMap { topic in
                    var partitions: Int64 = 1
                    var replication: Int64?
                    if let range = args.options["partitions"] {
                        switch number(line, range, name: "partitions", verb: verb, in: 1...Int64(limits.partitionsPerTopic)) {
                        case .success(let n): partitions = n
                        case .failure(let error): return .failure(error)
                        }
                    }
                    if let range = args.options["replication"] {
                        switch number(line, range, name: "replication", verb: verb, in: 1...Int64(SpoolLimits.maxReplication)) {
                        case .success(let n): replication = n
                        case .failure(let error): return .failure(error)
                        }
                    }
                    return .success(.create(topic: topic, partitions: Int(partitions), replication: replication.map { Int($0) }))
                }
            }
        case "DESCRIBE", "DROP":
            return collect(line, verb: verb, tokens: tokens, positionals: 1...1, options: []).flatMap { args in
                topic(line, args.positionals[0], verb: verb, limits: limits).map { verb == "DROP" ? .drop($0) : .describe($0) }
            }
        case "FETCH":
            return fetch(line, tokens: tokens, limits: limits)
        case "OFFSETS":
            return collect(line, verb: verb, tokens: tokens, positionals: 2...2, options: ["time"]).flatMap { args in
                topic(line, args.positionals[0], verb: verb, limits: limits).flatMap { topic in
                    partition(line, args.positionals[1], verb: verb).flatMap { partition in
                        guard let range = args.options["time"] else {
                            return .success(.offsets(topic: topic, partition: partition, time: nil))
                        }
                        return number(line, range, name: "time", verb: verb, in: 0...Int64.max).map {
                            .offsets(topic: topic, partition: partition, time: TimestampMs($0))
                        }
                    }
                }
            }
        case "SUB":
            return GroupGrammar.subscribe(line, tokens: tokens, limits: limits)
        case "COMMIT":
            return collect(line, verb: verb, tokens: tokens, positionals: 3...3, options: []).flatMap { args in
                topic(line, args.positionals[0], verb: verb, limits: limits).flatMap { topic in
                    partition(line, args.positionals[1], verb: verb).flatMap { partition in
                        number(line, args.positionals[2], name: "offset", verb: verb, in: 0...Int64.max).map {
                            .commit(topic: topic, partition: partition, offset: Offset($0))
                        }
                    }
                }
            }
        case "GROUP":
            return collect(line, verb: verb, tokens: tokens, positionals: 1...1, options: []).flatMap { args in
                GroupGrammar.group(line, args.positionals[0], verb: verb, limits: limits).map { .group($0) }
            }
        case "UNSUB":
            return collect(line, verb: verb, tokens: tokens, positionals: 0...1, options: []).flatMap { args in
                guard let range = args.positionals.first else { return .success(.unsubscribe(nil)) }
                return topic(line, range, verb: verb, limits: limits).map { .unsubscribe($0) }
            }
        case "METADATA":
            return collect(line, verb: verb, tokens: tokens, positionals: 0...1, options: []).flatMap { args in
                guard let range = args.positionals.first else { return .success(.metadata(nil)) }
                return topic(line, range, verb: verb, limits: limits).map { .metadata($0) }
            }
        case "VERIFY":
            return collect(line, verb: verb, tokens: tokens, positionals: 1...2, options: []).flatMap { args in
                topic(line, args.positionals[0], verb: verb, limits: limits).flatMap { topic in
                    guard args.positionals.count == 2 else { return .success(.verify(topic, nil)) }
                    return partition(line, args.positionals[1], verb: verb).map { .verify(topic, $0) }
                }
            }
        default:  // HELP: any word; whoever renders help answers unknown ones.
            return collect(line, verb: verb, tokens: tokens, positionals: 0...1, options: []).map { args in
                .help(command: args.positionals.first.map { line.upper($0) })
            }
        }
    }

    private static func fetch(_ line: RequestLine, tokens: ArraySlice<Range<Int>>, limits: SpoolLimits) -> Result<Request, SpoolError> {
        let verb = "FETCH"
        return collect(line, verb: verb, tokens: tokens, positionals: 3...3, options: ["max", "wait"]).flatMap { args in
            topic(line, args.positionals[0], verb: verb, limits: limits).flatMap { topic in
                partition(line, args.positionals[1], verb: verb).flatMap { partition in
                    start(line, args.positionals[2], name: "offset", verb: verb).flatMap { start in
                        // max above limits.fetchRecords is not an error: the server caps it.
                        var request = FetchRequest(topic: topic, partition: partition, start: start)
                        if let range = args.options["max"] {
                            switch number(line, range, name: "max", verb: verb, in: 1...Int64(Int.max)) {
                            case .success(let max): request.maxRecords = Int(max)
                            case .failure(let error): return .failure(error)
                            }
                        }
                        if let range = args.options["wait"] {
                            switch number(line, range, name: "wait", verb: verb, in: 0...limits.fetchWaitMs) {
                            case .success(let wait): request.waitMs = wait
                            case .failure(let error): return .failure(error)
                            }
                        }
                        return .success(.fetch(request))
                    }
                }
            }
        }
    }

    // MARK: Shared pieces (PublishGrammar uses them too).

    static func badArgument(_ verb: String, _ problem: String) -> SpoolError {
        SpoolError(.badArgument, "\(problem); usage: \(HelpText.usage(verb))")
    }

    /// Splits tokens into positionals and options; rejects unknown or repeated options, empty
    /// option values and a positional count outside `positionals`.
    static func collect(
        _ line: RequestLine, verb: String, tokens: ArraySlice<Range<Int>>, positionals allowed: ClosedRange<Int>,
        options names: [String]
    ) -> Result<Arguments, SpoolError> {
        var args = Arguments()
        for token in tokens {
            guard let equals = line.equalsIndex(token) else {
                args.positionals.append(token)
                continue
            }
            let name = line.lower(token.lowerBound..<equals)
            guard names.contains(name) else {
                return .failure(badArgument(verb, "unknown option \(line.quoted(token)) for \(verb)"))
            }
            guard args.options[name] == nil else {
                return .failure(badArgument(verb, "option \(name)= given twice"))
            }
            let value = (equals + 1)..<token.upperBound
            guard !value.isEmpty else { return .failure(badArgument(verb, "option \(name)= needs a value")) }
            args.options[name] = value
        }
        if args.positionals.count < allowed.lowerBound {
            return .failure(badArgument(verb, "missing argument"))
        }
        if args.positionals.count > allowed.upperBound {
            return .failure(badArgument(verb, "unexpected argument \(line.quoted(args.positionals[allowed.upperBound]))"))
        }
        return .success(args)
    }

    static func topic(_ line: RequestLine, _ range: Range<Int>, verb: String, limits: SpoolLimits) -> Result<TopicName, SpoolError> {
        // TopicName only accepts ASCII, so lossy decoding never turns a bad name into a good one.
        guard let topic = TopicName(line.string(range), maxBytes: limits.topicNameBytes) else {
            return .failure(badArgument(
                verb, "invalid topic name \(line.quoted(range)) (1 to \(limits.topicNameBytes) of [a-zA-Z0-9._-], not . or ..)"))
        }
        return .success(topic)
    }

    static func partition(_ line: RequestLine, _ range: Range<Int>, verb: String) -> Result<PartitionID, SpoolError> {
        guard let value = line.unsigned(range), value <= Int64(Int32.max) else {
            return .failure(badArgument(verb, "partition must be a number from 0 to \(Int32.max), not \(line.quoted(range))"))
        }
        return .success(PartitionID(Int32(value)))
    }

    static func number(
        _ line: RequestLine, _ range: Range<Int>, name: String, verb: String, in bounds: ClosedRange<Int64>
    ) -> Result<Int64, SpoolError> {
        guard let value = line.unsigned(range), bounds.contains(value) else {
            return .failure(badArgument(
                verb, "\(name) must be a number from \(bounds.lowerBound) to \(bounds.upperBound), not \(line.quoted(range))"))
        }
        return .success(value)
    }

    static func start(_ line: RequestLine, _ range: Range<Int>, name: String, verb: String) -> Result<StartPosition, SpoolError> {
        switch line.lower(range) {
        case "earliest": return .success(.earliest)
        case "latest": return .success(.latest)
        default:
            guard let offset = line.unsigned(range) else {
                return .failure(badArgument(verb, "\(name) must be earliest, latest or an offset >= 0, not \(line.quoted(range))"))
            }
            return .success(.offset(Offset(offset)))
        }
    }
}
