/// The checksum `VERIFY` compares between replicas: CRC-32C over a run of records in offset order,
/// each fed as
///
///     u64 offset | i64 timestamp_ms | u8 has_key | [u32 key length | key] | u32 value length | value
///
/// (integers big-endian; the key part only when has_key is 1). Every field of a stored record
/// counts, and the lengths keep a byte moved from a key to its value (or between neighbouring
/// records) from leaving the checksum unchanged. Two replicas that hold the same records at the
/// same offsets over the same range give the same value; docs/protocol.md (VERIFY) repeats the
/// definition so that an operator can recompute it from a partition file.
public struct RecordChecksum: Sendable, Equatable {
    /// The CRC-32C so far (0 for no record).
    public private(set) var value: UInt32 = 0
    /// How many records were fed.
    public private(set) var records: Int64 = 0

    public init() {}

    public mutating func add(_ record: RecordView) {
        add(offset: record.offset, timestamp: record.timestamp, key: record.key, value: record.value)
    }

    public mutating func add(offset: Offset, timestamp: TimestampMs, key: UnsafeRawBufferPointer?, value bytes: UnsafeRawBufferPointer) {
        // 8 + 8 + 1 + 4 bytes of header at most before the key, 4 before the value: no allocation.
        var header: (UInt64, UInt64, UInt64) = (0, 0, 0)
        let crc = withUnsafeMutableBytes(of: &header) { scratch -> UInt32 in
            var n = 0
            func put(_ v: UInt64, _ width: Int) {
                for i in (0..<width).reversed() {
                    scratch[n] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))
                    n += 1
                }
            }
            put(UInt64(bitPattern: offset.rawValue), 8)
            put(UInt64(bitPattern: timestamp.rawValue), 8)
            put(key == nil ? 0 : 1, 1)
            if let key { put(UInt64(key.count), 4) }
            var crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: scratch[0..<n]), continuing: value)
            if let key { crc = CRC32C.checksum(key, continuing: crc) }
            n = 0
            put(UInt64(bytes.count), 4)
            crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: scratch[0..<n]), continuing: crc)
            return CRC32C.checksum(bytes, continuing: crc)
        }
        value = crc
        records += 1
    }

    /// Eight lower-case hex digits, as VERIFY shows it.
    public var hex: String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
