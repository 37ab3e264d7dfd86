import NIOCore
import SpoolCore

/// The arguments of a well-formed `PUB` header, found without the general `CommandGrammar.collect`
/// (which builds an array and a dictionary per line): one positional (the topic) and at most one
/// each of `key=`, `partition=` and `acks=`, each with a value. Anything else is nil, and the
/// caller takes the general path, which accepts or refuses it with the documented error.
struct QuickArguments {
    var topic: Range<Int>
    var key: Range<Int>?
    var partition: Range<Int>?
    var acks: Range<Int>?

    init(topic: Range<Int>, key: Range<Int>?, partition: Range<Int>?, acks: Range<Int>?) {
        self.topic = topic
        self.key = key
        self.partition = partition
        self.acks = acks
    }

    init?(_ line: RequestLine, tokens: ArraySlice<Range<Int>>) {
        var topic: Range<Int>?
        var key: Range<Int>?
        var partition: Range<Int>?
        var acks: Range<Int>?
        for token in tokens {
            guard let equals = line.equalsIndex(token) else {
                guard topic == nil else { return nil }
                topic = token
                continue
            }
            let value = (equals + 1)..<token.upperBound
            guard !value.isEmpty else { return nil }
            let name = token.lowerBound..<equals
            if key == nil && line.isWord(name, "key") {
                key = value
            } else if partition == nil && line.isWord(name, "partition") {
                partition = value
            } else if acks == nil && line.isWord(name, "acks") {
                acks = value
            } else {
                return nil
            }
        }
        guard let topic else { return nil }
        self.init(topic: topic, key: key, partition: partition, acks: acks)
    }
}

/// The last topic name a connection's parser validated, with its bytes.
struct TopicCache: Sendable {
    private var last: TopicName?
    private var bytes: [UInt8] = []

    /// The topic named by `range`: the remembered one when the bytes are the same, else
    /// validated (and remembered) as `CommandGrammar.topic` does.
    mutating func topic(_ line: RequestLine, _ range: Range<Int>, limits: SpoolLimits) -> Result<TopicName, SpoolError> {
        if let last, range.count == bytes.count, line.bytes.withUnsafeReadableBytes({ raw in
            bytes.withUnsafeBytes { memcmp(raw.baseAddress! + range.lowerBound, $0.baseAddress!, range.count) == 0 }
        }) {
            return .success(last)
        }
        let result = CommandGrammar.topic(line, range, verb: PublishGrammar.verb, limits: limits)
        if case .success(let topic) = result {
            last = topic
            bytes = Array(topic.value.utf8)
        }
        return result
    }
}

extension RequestLine {
    /// Whether `range` is `word` (lower-case ASCII), ignoring ASCII case.
    func isWord(_ range: Range<Int>, _ word: StaticString) -> Bool {
        guard range.count == word.utf8CodeUnitCount else { return false }
        return bytes.withUnsafeReadableBytes { raw in
            for index in 0..<range.count {
                var byte = raw[range.lowerBound + index]
                if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte += 32 }
                if byte != word.utf8Start[index] { return false }
            }
            return true
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
