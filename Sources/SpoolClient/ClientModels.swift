import NIOCore
import SpoolCore
import SpoolProtocol

/// `OK <topic> <partition> <offset>`: where a published record went (offset nil for acks=none).
public struct PublishAck: Sendable, Equatable {
    public var topic: String
    public var partition: Int
    public var offset: Int64?

    public init(topic: String, partition: Int, offset: Int64?) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// A record to publish.
public struct OutgoingRecord: Sendable {
    public var topic: String
    public var key: [UInt8]?
    public var value: ByteBuffer
    public var partition: Int?
    public var acks: Acks

    public init(topic: String, key: [UInt8]? = nil, value: ByteBuffer, partition: Int? = nil, acks: Acks = .all) {
        self.topic = topic
        self.key = key
        self.value = value
        self.partition = partition
        self.acks = acks
    }

    public init(topic: String, key: String? = nil, value: String, partition: Int? = nil, acks: Acks = .all) {
        self.init(topic: topic, key: key.map { Array($0.utf8) }, value: ByteBuffer(string: value), partition: partition, acks: acks)
    }
}

/// The records of one `FETCH` and where to continue.
public struct FetchBatch: Sendable {
    public var messages: [Message]
    /// The offset to fetch next.
    public var next: Int64
    /// The partition's high watermark when the broker read.
    public var high: Int64
}

/// A `TOPICS` row.
public struct TopicInfo: Sendable, Equatable {
    public var name: String
    public var partitions: Int

    public init(name: String, partitions: Int) {
        self.name = name
        self.partitions = partitions
    }
}

/// A `PARTITION` row of `DESCRIBE`.
public struct PartitionInfo: Sendable, Equatable {
    public var partition: Int
    public var low: Int64
    public var high: Int64
    public var records: Int64
    public var bytes: Int64
}

/// `OFFSETS` answer.
public struct PartitionOffsets: Sendable, Equatable {
    public var earliest: Int64
    public var latest: Int64
    /// With a time: the first offset at or after it (latest when none).
    public var atTime: Int64?

    public init(earliest: Int64, latest: Int64, atTime: Int64?) {
        self.earliest = earliest
        self.latest = latest
        self.atTime = atTime
    }
}

extension Message {
    /// The value as UTF-8 text (invalid bytes replaced).
    public var valueString: String { String(buffer: value) }
    /// The key as UTF-8 text, nil when the record has no key.
    public var keyString: String? { key.map { String(decoding: $0, as: UTF8.self) } }
}

/// `name=value` fields of a reply line, e.g. `low=0 high=5` → ["low": "0", "high": "5"].
func fields(_ line: String) -> [String: String] {
    var result: [String: String] = [:]
    for token in line.split(separator: " ") {
        guard let equals = token.firstIndex(of: "=") else { continue }
        result[String(token[..<equals])] = String(token[token.index(after: equals)...])
    }
    return result
}
