import SpoolCore

/// A producer's records before the leader places them: encoded once, as the Raft entry's
/// `RecordBatch` payload, with the first offset and the timestamps left for the leader to write
/// in place (`RecordBatch.place`) when it proposes the batch. One growing array, no allocation
/// per record.
public struct ProduceBatch: Sendable {
    private var builder: RecordBatch.Builder

    /// `capacityBytes`: the expected encoded size (`RecordBatch.encodedBytes` per record), to reserve once.
    public init(capacityBytes: Int = 0) {
        builder = RecordBatch.Builder(firstOffset: .zero, capacity: RecordBatch.headerBytes + capacityBytes)
    }

    public mutating func append(key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer) {
        builder.append(timestamp: TimestampMs(0), key: key, value: value)
    }

    public mutating func append(key: [UInt8]?, value: [UInt8]) {
        builder.append(timestamp: TimestampMs(0), key: key, value: value)
    }

    /// Records in the batch.
    public var count: Int { builder.count }

    /// Encoded bytes (the Raft entry's payload size).
    public var byteCount: Int { builder.bytes.count }

    /// The payload, to be placed by the leader.
    func unplacedPayload() -> [UInt8] { builder.finish() }
}
