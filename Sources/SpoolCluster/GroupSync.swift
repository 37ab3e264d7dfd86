import NIOCore
import Raft
import SpoolCore
import SpoolGroups

/// What one broker tells its groups' coordinator about the members connected to it, every
/// `GroupAgent.syncIntervalMs` and at once on a change (a join, a leave, a finished revocation).
/// It is the whole truth about that broker's members, not a delta: a member missing from it has
/// left, and a new coordinator learns every group from these reports alone (KIP-848's model:
/// members declare what they hold, the coordinator answers what they should hold).
public struct GroupSyncRequest: Equatable, Sendable {
    public var broker: NodeID
    /// The reporting broker's run (random per start) and the report's number in it: a report
    /// that was given up on (timed out) may still arrive after a later one, and must not undo it.
    public var incarnation: UInt32
    public var sequence: UInt64
    public var members: [MemberReport]

    public init(broker: NodeID, incarnation: UInt32 = 0, sequence: UInt64 = 0, members: [MemberReport]) {
        self.broker = broker
        self.incarnation = incarnation
        self.sequence = sequence
        self.members = members
    }
}

/// One member as its broker reports it.
public struct MemberReport: Equatable, Sendable {
    public var member: MemberID
    public var group: GroupName
    public var topics: [TopicName]
    public var sessionTimeoutMs: Int64
    public var autoCommit: Bool
    /// The generation it last heard (`Generation.initial` before its first answer).
    public var generation: Generation
    /// Partitions it delivers, is starting, or is still settling after a revocation: what it may
    /// still commit. A partition the coordinator revoked and that is no longer here is released.
    public var held: [TopicPartition]

    public init(
        member: MemberID, group: GroupName, topics: [TopicName], sessionTimeoutMs: Int64, autoCommit: Bool, generation: Generation,
        held: [TopicPartition]
    ) {
        self.member = member
        self.group = group
        self.topics = topics
        self.sessionTimeoutMs = sessionTimeoutMs
        self.autoCommit = autoCommit
        self.generation = generation
        self.held = held
    }
}

/// The coordinator's answer: for each reported member, what it should hold now.
public enum GroupSyncReply: Equatable, Sendable {
    /// The asked broker is not the coordinator; `leader` is the one it knows (`NodeID.none`).
    case notCoordinator(leader: NodeID)
    case targets([MemberTarget])
}

public struct MemberTarget: Equatable, Sendable {
    public enum State: Equatable, Sendable {
        /// Hold exactly these partitions: start the new ones, revoke the others.
        case active(Generation, [TopicPartition])
        /// The coordinator removed the member (its session expired): end its group delivery.
        case removed(RemovalReason)
        /// The coordinator cannot take the member (a limit): end it with this message.
        case refused(String)
    }

    public var member: MemberID
    public var state: State

    public init(member: MemberID, state: State) {
        self.member = member
        self.state = state
    }
}

// MARK: Encoding: a version byte, then fields; strings as u16 length and UTF-8.

extension GroupSyncRequest {
    static let version: UInt8 = 2

    public var payload: [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(Self.version)
        buffer.writeInteger(broker.rawValue)
        buffer.writeInteger(incarnation)
        buffer.writeInteger(sequence)
        buffer.writeInteger(UInt32(members.count))
        for report in members {
            PeerFrameEncoder.writeString(report.member.value, into: &buffer)
            PeerFrameEncoder.writeString(report.group.value, into: &buffer)
            buffer.writeInteger(UInt32(report.topics.count))
            for topic in report.topics { PeerFrameEncoder.writeString(topic.value, into: &buffer) }
            buffer.writeInteger(report.sessionTimeoutMs)
            buffer.writeInteger(UInt8(report.autoCommit ? 1 : 0))
            buffer.writeInteger(report.generation.rawValue)
            GroupSyncCodec.write(report.held, into: &buffer)
        }
        return Array(buffer.readableBytesView)
    }

    /// Nil for bytes this build cannot read.
    public init?(payload: [UInt8], limits: SpoolLimits) {
        var buffer = ByteBuffer(bytes: payload)
        guard buffer.readInteger(as: UInt8.self) == Self.version, let broker = buffer.readInteger(as: UInt64.self),
            let incarnation = buffer.readInteger(as: UInt32.self), let sequence = buffer.readInteger(as: UInt64.self),
            let count = buffer.readInteger(as: UInt32.self), Int(count) <= GroupSyncCodec.maxMembers
        else { return nil }
        var members: [MemberReport] = []
        for _ in 0..<count {
            guard let member = ForwardedCommand.readString(&buffer), !member.isEmpty,
                let groupText = ForwardedCommand.readString(&buffer), let group = GroupName(groupText, maxBytes: limits.topicNameBytes),
                let topicCount = buffer.readInteger(as: UInt32.self), Int(topicCount) <= limits.topics
            else { return nil }
            var topics: [TopicName] = []
            for _ in 0..<topicCount {
                guard let text = ForwardedCommand.readString(&buffer), let topic = TopicName(text, maxBytes: limits.topicNameBytes) else { return nil }
                topics.append(topic)
            }
            guard let session = buffer.readInteger(as: Int64.self), session > 0, let auto = buffer.readInteger(as: UInt8.self), auto <= 1,
                let generation = buffer.readInteger(as: Int64.self), generation >= 0, let held = GroupSyncCodec.read(&buffer, limits: limits)
            else { return nil }
            members.append(
                MemberReport(
                    member: MemberID(member), group: group, topics: topics, sessionTimeoutMs: session, autoCommit: auto == 1,
                    generation: Generation(generation), held: held))
        }
        guard buffer.readableBytes == 0 else { return nil }
        self.init(broker: NodeID(broker), incarnation: incarnation, sequence: sequence, members: members)
    }
}

extension GroupSyncReply {
    public var payload: [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(GroupSyncRequest.version)
        switch self {
        case .notCoordinator(let leader):
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger(leader.rawValue)
        case .targets(let targets):
            buffer.writeInteger(UInt8(1))
            buffer.writeInteger(UInt32(targets.count))
            for target in targets {
                PeerFrameEncoder.writeString(target.member.value, into: &buffer)
                switch target.state {
                case .active(let generation, let partitions):
                    buffer.writeInteger(UInt8(0))
                    buffer.writeInteger(generation.rawValue)
                    GroupSyncCodec.write(partitions, into: &buffer)
                case .removed(let reason):
                    buffer.writeInteger(UInt8(1))
                    PeerFrameEncoder.writeString(reason.rawValue, into: &buffer)
                case .refused(let message):
                    buffer.writeInteger(UInt8(2))
                    PeerFrameEncoder.writeString(message, into: &buffer)
                }
            }
        }
        return Array(buffer.readableBytesView)
    }

    public init?(payload: [UInt8], limits: SpoolLimits) {
        var buffer = ByteBuffer(bytes: payload)
        guard buffer.readInteger(as: UInt8.self) == GroupSyncRequest.version, let kind = buffer.readInteger(as: UInt8.self) else { return nil }
        switch kind {
        case 0:
            guard let leader = buffer.readInteger(as: UInt64.self) else { return nil }
            self = .notCoordinator(leader: NodeID(leader))
        case 1:
            guard let count = buffer.readInteger(as: UInt32.self), Int(count) <= GroupSyncCodec.maxMembers else { return nil }
            var targets: [MemberTarget] = []
            for _ in 0..<count {
                guard let member = ForwardedCommand.readString(&buffer), let state = buffer.readInteger(as: UInt8.self) else { return nil }
                switch state {
                case 0:
                    guard let generation = buffer.readInteger(as: Int64.self), let partitions = GroupSyncCodec.read(&buffer, limits: limits) else { return nil }
                    targets.append(MemberTarget(member: MemberID(member), state: .active(Generation(generation), partitions)))
                case 1:
                    guard let text = ForwardedCommand.readString(&buffer), let reason = RemovalReason(rawValue: text) else { return nil }
                    targets.append(MemberTarget(member: MemberID(member), state: .removed(reason)))
                case 2:
                    guard let message = ForwardedCommand.readString(&buffer) else { return nil }
                    targets.append(MemberTarget(member: MemberID(member), state: .refused(message)))
                default:
                    return nil
                }
            }
            self = .targets(targets)
        default:
            return nil
        }
        guard buffer.readableBytes == 0 else { return nil }
    }
}

enum GroupSyncCodec {
    /// A bound on members in one report (a broker's connections are bounded far lower).
    static let maxMembers = 1 << 20

    static func write(_ partitions: [TopicPartition], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(partitions.count))
        for partition in partitions {
            PeerFrameEncoder.writeString(partition.topic.value, into: &buffer)
            buffer.writeInteger(partition.partition.rawValue)
        }
    }

    static func read(_ buffer: inout ByteBuffer, limits: SpoolLimits) -> [TopicPartition]? {
        guard let count = buffer.readInteger(as: UInt32.self), Int(count) <= limits.topics * limits.partitionsPerTopic else { return nil }
        var partitions: [TopicPartition] = []
        for _ in 0..<count {
            guard let text = ForwardedCommand.readString(&buffer), let topic = TopicName(text, maxBytes: limits.topicNameBytes),
                let partition = buffer.readInteger(as: Int32.self), partition >= 0
            else { return nil }
            partitions.append(TopicPartition(topic: topic, partition: PartitionID(partition)))
        }
        return partitions
    }
}
