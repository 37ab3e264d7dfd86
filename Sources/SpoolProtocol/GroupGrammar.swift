import SpoolCore

/// The grammar of `SUB` (plain and with `group=`) and of group names.
enum GroupGrammar {
    static func subscribe(_ line: RequestLine, tokens: ArraySlice<Range<Int>>, limits: SpoolLimits) -> Result<Request, SpoolError> {
        let verb = "SUB"
        let options = ["from", "group", "commit", "session"]
        return CommandGrammar.collect(line, verb: verb, tokens: tokens, positionals: 1...1, options: options).flatMap { args in
            var from = StartPosition.latest
            if let range = args.options["from"] {
                switch CommandGrammar.start(line, range, name: "from", verb: verb) {
                case .success(let start): from = start
                case .failure(let error): return .failure(error)
                }
            }
            guard let groupRange = args.options["group"] else {
                for name in ["commit", "session"] where args.options[name] != nil {
                    return .failure(CommandGrammar.badArgument(verb, "\(name)= needs group="))
                }
                return CommandGrammar.topic(line, args.positionals[0], verb: verb, limits: limits).map {
                    .subscribe(topic: $0, from: from)
                }
            }
            if case .offset = from {
                return .failure(CommandGrammar.badArgument(verb, "a group starts from its commits; from= is earliest or latest"))
            }
            let group: GroupName
            switch Self.group(line, groupRange, verb: verb, limits: limits) {
            case .success(let name): group = name
            case .failure(let error): return .failure(error)
            }
            var topics = Set<TopicName>()
            let text = line.string(args.positionals[0])
            for part in text.split(separator: ",", omittingEmptySubsequences: false) {
                guard let topic = TopicName(String(part), maxBytes: limits.topicNameBytes) else {
                    return .failure(CommandGrammar.badArgument(
                        verb, "invalid topic name in \(line.quoted(args.positionals[0])) (topics are separated by commas)"))
                }
                topics.insert(topic)
            }
            var request = GroupSubscribeRequest(topics: topics.sorted(), group: group, from: from)
            if let range = args.options["commit"] {
                switch line.lower(range) {
                case "auto": request.autoCommit = true
                case "manual": request.autoCommit = false
                default: return .failure(CommandGrammar.badArgument(verb, "commit= is auto or manual, not \(line.quoted(range))"))
                }
            }
            if let range = args.options["session"] {
                switch CommandGrammar.number(line, range, name: "session", verb: verb, in: 1000...max(1000, limits.groupSessionTimeoutMaxMs)) {
                case .success(let ms): request.sessionTimeoutMs = ms
                case .failure(let error): return .failure(error)
                }
            }
            return .success(.subscribeGroup(request))
        }
    }

    /// Group names follow the topic-name rules: 1 to `topicNameBytes` of `[a-zA-Z0-9._-]`.
    static func group(_ line: RequestLine, _ range: Range<Int>, verb: String, limits: SpoolLimits) -> Result<GroupName, SpoolError> {
        guard let name = GroupName(line.string(range), maxBytes: limits.topicNameBytes) else {
            return .failure(CommandGrammar.badArgument(
                verb, "invalid group name \(line.quoted(range)) (1 to \(limits.topicNameBytes) of [a-zA-Z0-9._-], not . or ..)"))
        }
        return .success(name)
    }
}
