import NIOCore
import SpoolCore

/// One reply unit read by a client: a line, or a whole `MSG` record.
public enum ReplyFrame: Equatable, Sendable {
    /// Any line other than a `MSG` header, without its line end (`PONG`, `OK ...`, `ERR ...`, `END ...`).
    case line(String)
    /// A record: a `MSG` header with its payload.
    case message(Message)
}

/// A record as a client receives it in `MSG <topic> <partition> <offset> <timestamp_ms> <key|-> <nbytes>`.
public struct Message: Equatable, Sendable {
    /// The topic name as sent (not re-validated: the broker is trusted to send legal names).
    public var topic: String
    public var partition: PartitionID
    public var offset: Offset
    /// The broker's append time.
    public var timestamp: TimestampMs
    /// The decoded key (see `KeyCodec`); nil when the record has no key.
    public var key: [UInt8]?
    /// The value's bytes, a slice of the client's input buffer.
    public var value: ByteBuffer

    public init(topic: String, partition: PartitionID, offset: Offset, timestamp: TimestampMs, key: [UInt8]?, value: ByteBuffer) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
        self.key = key
        self.value = value
    }
}

/// Why a client could not read the broker's replies. The stream cannot be resynchronised after
/// one: close the connection.
public struct ReplyParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// A line longer than `maxLineBytes`.
        case lineTooLong
        /// A `MSG` header that does not follow the grammar.
        case malformedMessageHeader
        /// A `MSG` payload larger than `maxPayloadBytes`.
        case payloadTooLarge
        /// A `MSG` payload not followed by a line end.
        case badPayloadEnd
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "\(kind): \(message)" }
}
