import NIOCore
import Raft
import SpoolCore

/// An entry of the metadata group's log. The broker that takes a request computes everything
/// that is not deterministic (placement, the time) and proposes it, so applying a command on any
/// broker gives the same state.
public enum MetadataCommand: Hashable, Sendable {
    /// A broker announces where clients reach it (on every start; the voter set itself is the
    /// static `--peers` list).
    case registerBroker(BrokerRecord)
    /// `partitions = replicas.count`; every partition has the same number of replicas.
    case createTopic(name: TopicName, replicas: [[NodeID]], createdMs: Int64)
    case dropTopic(TopicName)
}

/// Stable encoding of `MetadataCommand` as an entry payload: a version byte, a kind byte, fields.
extension MetadataCommand {
    static let encodingVersion: UInt8 = 1

    enum Kind: UInt8 {
        case registerBroker = 1
        case createTopic = 2
        case dropTopic = 3
    }

    public var payload: [UInt8] {
        var buffer = ByteBuffer()
        buffer.writeInteger(Self.encodingVersion)
        switch self {
        case .registerBroker(let broker):
            buffer.writeInteger(Kind.registerBroker.rawValue)
            buffer.writeInteger(broker.id.rawValue)
            PeerFrameEncoder.writeString(broker.clientAddress, into: &buffer)
        case .createTopic(let name, let replicas, let createdMs):
            buffer.writeInteger(Kind.createTopic.rawValue)
            PeerFrameEncoder.writeString(name.value, into: &buffer)
            buffer.writeInteger(createdMs)
            buffer.writeInteger(UInt32(replicas.count))
            buffer.writeInteger(UInt8(replicas.first?.count ?? 0))
            for partition in replicas {
                for broker in partition { buffer.writeInteger(broker.rawValue) }
            }
        case .dropTopic(let name):
            buffer.writeInteger(Kind.dropTopic.rawValue)
            PeerFrameEncoder.writeString(name.value, into: &buffer)
        }
        return Array(buffer.readableBytesView)
    }

    /// Nil for bytes this build cannot read (a newer version, or damage the entry's checksum
    /// did not catch): the caller stops the metadata group rather than guess.
    public init?(payload: [UInt8], limits: SpoolLimits = SpoolLimits()) {
        var buffer = ByteBuffer(bytes: payload)
        guard buffer.readInteger(as: UInt8.self) == Self.encodingVersion,
            let kindByte = buffer.readInteger(as: UInt8.self), let kind = Kind(rawValue: kindByte)
        else { return nil }
        switch kind {
        case .registerBroker:
            guard let id = buffer.readInteger(as: UInt64.self), let address = Self.readString(&buffer) else { return nil }
            self = .registerBroker(BrokerRecord(id: NodeID(id), clientAddress: address))
        case .createTopic:
            guard let text = Self.readString(&buffer), let name = TopicName(text, maxBytes: limits.topicNameBytes),
                let createdMs = buffer.readInteger(as: Int64.self),
                let partitions = buffer.readInteger(as: UInt32.self), partitions >= 1, Int(partitions) <= limits.partitionsPerTopic,
                let replication = buffer.readInteger(as: UInt8.self), replication >= 1,
                buffer.readableBytes == Int(partitions) * Int(replication) * 8
            else { return nil }
            var replicas: [[NodeID]] = []
            replicas.reserveCapacity(Int(partitions))
            for _ in 0..<partitions {
                replicas.append((0..<replication).map { _ in NodeID(buffer.readInteger(as: UInt64.self)!) })
            }
            self = .createTopic(name: name, replicas: replicas, createdMs: createdMs)
        case .dropTopic:
            guard let text = Self.readString(&buffer), let name = TopicName(text, maxBytes: limits.topicNameBytes) else { return nil }
            self = .dropTopic(name)
        }
        guard buffer.readableBytes == 0 else { return nil }
    }

    private static func readString(_ buffer: inout ByteBuffer) -> String? {
        guard let count = buffer.readInteger(as: UInt16.self), let bytes = buffer.readBytes(length: Int(count)) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }
}
