import NIOCore
import Raft
import SpoolCore

/// A client request one broker sends another over the peer transport (`PeerService.command`),
/// because the other leads the partition it names, or because it asks what only leaders know.
/// The broker that answers renders nothing: the asking broker turns the answer into the very
/// reply line its client would have had from the leader (docs/cluster.md, "Any broker").
public enum ForwardedCommand: Equatable, Sendable {
    /// The partitions the asked broker leads (of `topic`, or of every topic), with what a leader
    /// alone knows: its term, its in-sync replicas and the high watermark.
    case leaderStates(topic: TopicName?)
    /// One `PUB` for `partition`, which the asked broker is believed to lead. `hops` is how many
    /// more times it may be sent on, to the leader the asked broker knows, if that is another.
    case publish(ForwardedPublish)
    /// A `FETCH` of a partition the asking broker holds no replica of; answered `.rendered` with
    /// the reply's bytes (the MSG blocks and the END line), rendered by the replica.
    case fetch(topic: TopicName, partition: PartitionID, start: StartPosition, maxRecords: Int, waitMs: Int64)
    /// An `OFFSETS` of such a partition; answered `.rendered` with the reply line.
    case offsets(topic: TopicName, partition: PartitionID, time: TimestampMs?)
    /// The `DESCRIBE` lines of these partitions, which the asked broker holds; `.rendered`.
    case describe(topic: TopicName, partitions: [PartitionID])
    /// `VERIFY`, first step: the asked replica's first retained offset and high watermark,
    /// answered `.rendered` as `<earliest> <high>` (or `offline=<reason>`).
    case verifyBounds(topic: TopicName, partition: PartitionID)
    /// `VERIFY`, second step: the checksum of the asked replica's records in `from..<upTo`,
    /// answered `.rendered` as `<records> <eight hex digits>` (or `offline=<reason>`).
    case verifyChecksum(topic: TopicName, partition: PartitionID, from: Offset, upTo: Offset)
    /// A broker's report of its group members to their coordinator (`GroupSyncRequest`'s
    /// payload); answered `.rendered` with a `GroupSyncReply` payload.
    case groupSync([UInt8])
    /// A group member's `COMMIT` (or auto-commit) for a partition the asked broker is believed to
    /// lead; `.appended(nextOffset)` once committed on a majority. `hops` as for `publish`.
    case commitOffset(ForwardedOffsetCommit)
    /// A group's committed offset in a partition, as its leader has applied it; `.rendered` as
    /// the offset in decimal, or `-` when the group never committed there.
    case committedOffset(topic: TopicName, partition: PartitionID, group: GroupName)
    /// `GROUP <g>` (or `GROUPS` when nil), answered by the groups' coordinator; `.rendered`.
    case groupInfo(group: GroupName?)
    /// A group's lag in these partitions, which the asked broker holds (the coordinator's
    /// `GROUP <g>` for partitions it holds no replica of); `.rendered` as one line per partition:
    /// `<p> <committed|-> <end> <lag> <lag_ms>`.
    case lag(topic: TopicName, group: GroupName, live: Bool, partitions: [PartitionID])
}

public struct ForwardedOffsetCommit: Hashable, Sendable {
    public var topic: TopicName
    public var partition: PartitionID
    public var group: GroupName
    public var nextOffset: Offset
    public var generation: Int64
    public var member: String
    public var hops: UInt8

    public init(topic: TopicName, partition: PartitionID, group: GroupName, nextOffset: Offset, generation: Int64, member: String, hops: UInt8) {
        self.topic = topic
        self.partition = partition
        self.group = group
        self.nextOffset = nextOffset
        self.generation = generation
        self.member = member
        self.hops = hops
    }
}

public struct ForwardedPublish: Hashable, Sendable {
    public var topic: TopicName
    public var partition: PartitionID
    public var key: [UInt8]?
    public var value: [UInt8]
    /// Only `.leader` and `.all` are forwarded: an acks=none record is answered before it leaves.
    public var acks: Acks
    public var hops: UInt8

    public init(topic: TopicName, partition: PartitionID, key: [UInt8]?, value: [UInt8], acks: Acks, hops: UInt8) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.acks = acks
        self.hops = hops
    }
}

/// What a leader tells about one partition it leads.
public struct LeaderState: Hashable, Sendable {
    public var topic: TopicName
    public var partition: PartitionID
    public var term: Term
    public var leader: NodeID
    /// The replicas holding every committed record, the leader included.
    public var inSync: [NodeID]
    public var high: Offset

    public init(topic: TopicName, partition: PartitionID, term: Term, leader: NodeID, inSync: [NodeID], high: Offset) {
        self.topic = topic
        self.partition = partition
        self.term = term
        self.leader = leader
        self.inSync = inSync
        self.high = high
    }
}

/// The answer to a forwarded command: a `PUB`'s offset, a read's reply bytes, or the error the
/// other broker answered.
public enum ForwardedResult: Sendable {
    case appended(Offset)
    case rendered([UInt8])
    case failed(SpoolError)
}

/// Stable encodings: a version byte, a kind byte, fields (strings as u16 length and UTF-8).
extension ForwardedCommand {
    static let encodingVersion: UInt8 = 1

    public var payload: [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(Self.encodingVersion)
        switch self {
        case .leaderStates(let topic):
            buffer.writeInteger(UInt8(1))
            PeerFrameEncoder.writeString(topic?.value ?? "", into: &buffer)
        case .publish(let publish):
            buffer.writeInteger(UInt8(2))
            PeerFrameEncoder.writeString(publish.topic.value, into: &buffer)
            buffer.writeInteger(publish.partition.rawValue)
            buffer.writeInteger(UInt8(publish.acks == .all ? 2 : 1))
            buffer.writeInteger(publish.hops)
            if let key = publish.key {
                buffer.writeInteger(UInt8(1))
                buffer.writeInteger(UInt32(key.count))
                buffer.writeBytes(key)
            } else {
                buffer.writeInteger(UInt8(0))
            }
            buffer.writeInteger(UInt32(publish.value.count))
            buffer.writeBytes(publish.value)
        case .fetch(let topic, let partition, let start, let maxRecords, let waitMs):
            buffer.writeInteger(UInt8(3))
            PeerFrameEncoder.writeString(topic.value, into: &buffer)
            buffer.writeInteger(partition.rawValue)
            switch start {
            case .earliest: buffer.writeInteger(UInt8(0))
            case .latest: buffer.writeInteger(UInt8(1))
            case .offset(let offset):
                buffer.writeInteger(UInt8(2))
                buffer.writeInteger(offset.rawValue)
            }
            buffer.writeInteger(UInt32(clamping: maxRecords))
            buffer.writeInteger(waitMs)
        case .offsets(let topic, let partition, let time):
            buffer.writeInteger(UInt8(4))
            PeerFrameEncoder.writeString(topic.value, into: &buffer)
            buffer.writeInteger(partition.rawValue)
            buffer.writeInteger(UInt8(time == nil ? 0 : 1))
            if let time { buffer.writeInteger(time.rawValue) }
        case .describe(let topic, let partitions):
            buffer.writeInteger(UInt8(5))
            PeerFrameEncoder.writeString(topic.value, into: &buffer)
            buffer.writeInteger(UInt32(partitions.count))
            for partition in partitions { buffer.writeInteger(partition.rawValue) }
        case .verifyBounds(let topic, let partition):
            buffer.writeInteger(UInt8(6))
            PeerFrameEncoder.writeString(topic.value, into: &buffer)
            buffer.writeInteger(partition.rawValue)
        case .verifyChecksum(let topic, let partition, let from, let upTo):
            buffer.writeInteger(UInt8(7))
            PeerFrameEncoder.writeString(topic.value, into: &buffer)
            buffer.writeInteger(partition.rawValue)
            buffer.writeInteger(from.rawValue)
            buffer.writeInteger(upTo.rawValue)
        case .groupSync(let payload):
            buffer.writeInteger(UInt8(8))
            buffer.writeInteger(UInt32(payload.count))
            buffer.writeBytes(payload)
        case .commitOffset(let commit):
            buffer.writeInteger(UInt8(9))
            PeerFrameEncoder.writeString(commit.topic.value, into: &buffer)
            buffer.writeInteger(commit.partition.rawValue)
            PeerFrameEncoder.writeString(commit.group.value, into: &buffer)
            buffer.writeInteger(commit.nextOffset.rawValue)
            buffer.writeInteger(commit.generation)
            PeerFrameEncoder.writeString(commit.member, into: &buffer)
            buffer.writeInteger(commit.hops)
        case .committedOffset(let topic, let partition, let group):
            buffer.writeInteger(UInt8(10))
            PeerFrameEncoder.writeString(topic.value, into: &buffer)
            buffer.writeInteger(partition.rawValue)
            PeerFrameEncoder.writeString(group.value, into: &buffer)
        case .groupInfo(let group):
            buffer.writeInteger(UInt8(11))
            PeerFrameEncoder.writeString(group?.value ?? "", into: &buffer)
        case .lag(let topic, let group, let live, let partitions):
            buffer.writeInteger(UInt8(12))
            PeerFrameEncoder.writeString(topic.value, into: &buffer)
            PeerFrameEncoder.writeString(group.value, into: &buffer)
            buffer.writeInteger(UInt8(live ? 1 : 0))
            buffer.writeInteger(UInt32(partitions.count))
            for partition in partitions { buffer.writeInteger(partition.rawValue) }
        }
        return Array(buffer.readableBytesView)
    }

    /// Nil for bytes this build cannot read (answered as a refusal, never guessed at).
    public init?(payload: [UInt8], limits: SpoolLimits) {
        var buffer = ByteBuffer(bytes: payload)
        guard buffer.readInteger(as: UInt8.self) == Self.encodingVersion, let kind = buffer.readInteger(as: UInt8.self) else { return nil }
        switch kind {
        case 1:
            guard let text = Self.readString(&buffer) else { return nil }
            if text.isEmpty {
                self = .leaderStates(topic: nil)
            } else {
                guard let topic = TopicName(text, maxBytes: limits.topicNameBytes) else { return nil }
                self = .leaderStates(topic: topic)
            }
        case 2:
            guard let text = Self.readString(&buffer), let topic = TopicName(text, maxBytes: limits.topicNameBytes),
                let partition = buffer.readInteger(as: Int32.self), partition >= 0,
                let acks = buffer.readInteger(as: UInt8.self), acks == 1 || acks == 2,
                let hops = buffer.readInteger(as: UInt8.self), let hasKey = buffer.readInteger(as: UInt8.self), hasKey <= 1
            else { return nil }
            var key: [UInt8]?
            if hasKey == 1 {
                guard let count = buffer.readInteger(as: UInt32.self), Int(count) <= limits.keyBytes,
                    let bytes = buffer.readBytes(length: Int(count))
                else { return nil }
                key = bytes
            }
            guard let count = buffer.readInteger(as: UInt32.self), Int(count) <= limits.payloadBytes,
                let value = buffer.readBytes(length: Int(count))
            else { return nil }
            self = .publish(
                ForwardedPublish(topic: topic, partition: PartitionID(partition), key: key, value: value, acks: acks == 2 ? .all : .leader, hops: hops))
        case 3:
            guard let text = Self.readString(&buffer), let topic = TopicName(text, maxBytes: limits.topicNameBytes),
                let partition = buffer.readInteger(as: Int32.self), partition >= 0, let kind = buffer.readInteger(as: UInt8.self)
            else { return nil }
            let start: StartPosition
            switch kind {
            case 0: start = .earliest
            case 1: start = .latest
            case 2:
                guard let offset = buffer.readInteger(as: Int64.self), offset >= 0 else { return nil }
                start = .offset(Offset(offset))
            default: return nil
            }
            guard let maxRecords = buffer.readInteger(as: UInt32.self), maxRecords >= 1,
                let waitMs = buffer.readInteger(as: Int64.self), waitMs >= 0
            else { return nil }
            self = .fetch(topic: topic, partition: PartitionID(partition), start: start, maxRecords: Int(maxRecords), waitMs: waitMs)
        case 4:
            guard let text = Self.readString(&buffer), let topic = TopicName(text, maxBytes: limits.topicNameBytes),
                let partition = buffer.readInteger(as: Int32.self), partition >= 0, let hasTime = buffer.readInteger(as: UInt8.self), hasTime <= 1
            else { return nil }
            var time: TimestampMs?
            if hasTime == 1 {
                guard let value = buffer.readInteger(as: Int64.self) else { return nil }
                time = TimestampMs(value)
            }
            self = .offsets(topic: topic, partition: PartitionID(partition), time: time)
        case 5:
            guard let text = Self.readString(&buffer), let topic = TopicName(text, maxBytes: limits.topicNameBytes),
                let count = buffer.readInteger(as: UInt32.self), Int(count) <= limits.partitionsPerTopic, buffer.readableBytes == Int(count) * 4
            else { return nil }
            let partitions = (0..<count).map { _ in PartitionID(buffer.readInteger(as: Int32.self)!) }
            guard partitions.allSatisfy({ $0.rawValue >= 0 }) else { return nil }
            self = .describe(topic: topic, partitions: partitions)
        case 6:
            guard let text = Self.readString(&buffer), let topic = TopicName(text, maxBytes: limits.topicNameBytes),
                let partition = buffer.readInteger(as: Int32.self), partition >= 0
            else { return nil }
            self = .verifyBounds(topic: topic, partition: PartitionID(partition))
        case 7:
            guard let text = Self.readString(&buffer), let topic = TopicName(text, maxBytes: limits.topicNameBytes),
                let partition = buffer.readInteger(as: Int32.self), partition >= 0,
                let from = buffer.readInteger(as: Int64.self), let upTo = buffer.readInteger(as: Int64.self), from >= 0, upTo >= from
            else { return nil }
            self = .verifyChecksum(topic: topic, partition: PartitionID(partition), from: Offset(from), upTo: Offset(upTo))
        case 8:
            guard let count = buffer.readInteger(as: UInt32.self), let bytes = buffer.readBytes(length: Int(count)) else { return nil }
            self = .groupSync(bytes)
        case 9:
            guard let text = Self.readString(&buffer), let topic = TopicName(text, maxBytes: limits.topicNameBytes),
                let partition = buffer.readInteger(as: Int32.self), partition >= 0,
                let groupText = Self.readString(&buffer), let group = GroupName(groupText, maxBytes: limits.topicNameBytes),
                let next = buffer.readInteger(as: Int64.self), next >= 0, let generation = buffer.readInteger(as: Int64.self),
                let member = Self.readString(&buffer), let hops = buffer.readInteger(as: UInt8.self)
            else { return nil }
            self = .commitOffset(
                ForwardedOffsetCommit(
                    topic: topic, partition: PartitionID(partition), group: group, nextOffset: Offset(next), generation: generation, member: member,
                    hops: hops))
        case 10:
            guard let text = Self.readString(&buffer), let topic = TopicName(text, maxBytes: limits.topicNameBytes),
                let partition = buffer.readInteger(as: Int32.self), partition >= 0,
                let groupText = Self.readString(&buffer), let group = GroupName(groupText, maxBytes: limits.topicNameBytes)
            else { return nil }
            self = .committedOffset(topic: topic, partition: PartitionID(partition), group: group)
        case 11:
            guard let text = Self.readString(&buffer) else { return nil }
            if text.isEmpty {
                self = .groupInfo(group: nil)
            } else {
                guard let group = GroupName(text, maxBytes: limits.topicNameBytes) else { return nil }
                self = .groupInfo(group: group)
            }
        case 12:
            guard let text = Self.readString(&buffer), let topic = TopicName(text, maxBytes: limits.topicNameBytes),
                let groupText = Self.readString(&buffer), let group = GroupName(groupText, maxBytes: limits.topicNameBytes),
                let live = buffer.readInteger(as: UInt8.self), live <= 1,
                let count = buffer.readInteger(as: UInt32.self), Int(count) <= limits.partitionsPerTopic, buffer.readableBytes == Int(count) * 4
            else { return nil }
            let partitions = (0..<count).map { _ in PartitionID(buffer.readInteger(as: Int32.self)!) }
            guard partitions.allSatisfy({ $0.rawValue >= 0 }) else { return nil }
            self = .lag(topic: topic, group: group, live: live == 1, partitions: partitions)
        default:
            return nil
        }
        guard buffer.readableBytes == 0 else { return nil }
    }

    static func readString(_ buffer: inout ByteBuffer) -> String? {
        guard let count = buffer.readInteger(as: UInt16.self), let bytes = buffer.readBytes(length: Int(count)) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}

extension LeaderState {
    /// Many states in one answer.
    public static func payload(_ states: [LeaderState]) -> [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(states.count))
        for state in states {
            PeerFrameEncoder.writeString(state.topic.value, into: &buffer)
            buffer.writeInteger(state.partition.rawValue)
            buffer.writeInteger(state.term.rawValue)
            buffer.writeInteger(state.leader.rawValue)
            buffer.writeInteger(state.high.rawValue)
            buffer.writeInteger(UInt8(clamping: state.inSync.count))
            for node in state.inSync.prefix(255) { buffer.writeInteger(node.rawValue) }
        }
        return Array(buffer.readableBytesView)
    }

    public static func states(payload: [UInt8], limits: SpoolLimits) -> [LeaderState]? {
        var buffer = ByteBuffer(bytes: payload)
        guard let count = buffer.readInteger(as: UInt32.self) else { return nil }
        var states: [LeaderState] = []
        for _ in 0..<count {
            guard let text = ForwardedCommand.readString(&buffer), let topic = TopicName(text, maxBytes: limits.topicNameBytes),
                let partition = buffer.readInteger(as: Int32.self), let term = buffer.readInteger(as: UInt64.self),
                let leader = buffer.readInteger(as: UInt64.self), let high = buffer.readInteger(as: Int64.self),
                let synced = buffer.readInteger(as: UInt8.self), buffer.readableBytes >= Int(synced) * 8
            else { return nil }
            let inSync = (0..<synced).map { _ in NodeID(buffer.readInteger(as: UInt64.self)!) }
            states.append(
                LeaderState(
                    topic: topic, partition: PartitionID(partition), term: Term(term), leader: NodeID(leader), inSync: inSync,
                    high: Offset(high)))
        }
        guard buffer.readableBytes == 0 else { return nil }
        return states
    }
}

extension ForwardedResult {
    public var payload: [UInt8] {
        var buffer = ByteBuffer()
        switch self {
        case .appended(let offset):
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger(offset.rawValue)
        case .rendered(let bytes):
            buffer.writeInteger(UInt8(2))
            buffer.writeBytes(bytes)
        case .failed(let error):
            buffer.writeInteger(UInt8(1))
            PeerFrameEncoder.writeString(error.code.wire, into: &buffer)
            PeerFrameEncoder.writeString(error.message, into: &buffer)
        }
        return Array(buffer.readableBytesView)
    }

    public init?(payload: [UInt8]) {
        var buffer = ByteBuffer(bytes: payload)
        switch buffer.readInteger(as: UInt8.self) {
        case 0:
            guard let offset = buffer.readInteger(as: Int64.self), offset >= 0 else { return nil }
            self = .appended(Offset(offset))
        case 1:
            guard let wire = ForwardedCommand.readString(&buffer), let code = ErrorCode(rawValue: wire),
                let message = ForwardedCommand.readString(&buffer)
            else { return nil }
            self = .failed(SpoolError(code, message))
        case 2:
            self = .rendered(buffer.readBytes(length: buffer.readableBytes) ?? [])
        default:
            return nil
        }
        guard buffer.readableBytes == 0 else { return nil }
    }
}
