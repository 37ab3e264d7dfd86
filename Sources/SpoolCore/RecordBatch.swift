/// The payload of one Raft entry of kind `record`: a produce batch, as the leader proposes it and a
/// follower receives it (docs/replication.md §4). The leader assigns offsets and timestamps;
/// followers store them verbatim.
///
/// Layout, big-endian:
///
///     first_offset u64 | count u32 | count × (timestamp_ms i64 | key_length i32 (-1 = no key) |
///                                             key bytes | value_length u32 | value bytes)
///
/// Records are consecutive: the i-th has offset `first_offset + i`. Reading never allocates: the
/// visitor gets `RecordView`s that borrow the payload's bytes.
public enum RecordBatch {
    /// first_offset + count, in bytes.
    public static let headerBytes = 12
    /// timestamp + key length + value length, in bytes, per record.
    public static let recordOverheadBytes = 16

    /// What the header of a well-formed batch says.
    public struct Header: Hashable, Sendable {
        public var firstOffset: Offset
        public var count: Int

        public init(firstOffset: Offset, count: Int) {
            self.firstOffset = firstOffset
            self.count = count
        }

        /// The offset after the batch's last record.
        public var endOffset: Offset { firstOffset + Int64(count) }
    }

    /// Bytes of the encoding of one record with these lengths.
    public static func encodedBytes(keyCount: Int?, valueCount: Int) -> Int {
        recordOverheadBytes + (keyCount ?? 0) + valueCount
    }

    /// Checks the whole structure (every length inside the payload, nothing left over, offsets
    /// that fit an `Int64`) without copying anything. nil when malformed.
    public static func header(of bytes: UnsafeRawBufferPointer) -> Header? {
        guard bytes.count >= headerBytes else { return nil }
        let first = readU64(bytes, at: 0)
        let count = Int(readU32(bytes, at: 8))
        guard first <= UInt64(Int64.max) - UInt64(count) else { return nil }
        var position = headerBytes
        for _ in 0 ..< count {
            guard bytes.count - position >= 12 else { return nil }
            let keyLength = Int32(bitPattern: readU32(bytes, at: position + 8))
            position += 12
            if keyLength >= 0 {
                guard bytes.count - position >= Int(keyLength) else { return nil }
                position += Int(keyLength)
            } else if keyLength != -1 {
                return nil
            }
            guard bytes.count - position >= 4 else { return nil }
            let valueLength = Int(readU32(bytes, at: position))
            position += 4
            guard bytes.count - position >= valueLength else { return nil }
            position += valueLength
        }
        guard position == bytes.count else { return nil }
        return Header(firstOffset: Offset(Int64(first)), count: count)
    }

    /// Visits the records of a batch in order; `nil` (and no visit) when the batch is malformed.
    /// The views borrow `bytes`: valid only inside `visit`.
    @discardableResult
    public static func forEachRecord(
        in bytes: UnsafeRawBufferPointer, _ visit: (RecordView) throws -> Void
    ) rethrows -> Header? {
        guard let header = header(of: bytes) else { return nil }
        var position = headerBytes
        for index in 0 ..< header.count {
            let timestamp = Int64(bitPattern: readU64(bytes, at: position))
            let keyLength = Int32(bitPattern: readU32(bytes, at: position + 8))
            position += 12
            var key: UnsafeRawBufferPointer?
            if keyLength >= 0 {
                key = UnsafeRawBufferPointer(rebasing: bytes[position ..< position + Int(keyLength)])
                position += Int(keyLength)
            }
            let valueLength = Int(readU32(bytes, at: position))
            position += 4
            let value = UnsafeRawBufferPointer(rebasing: bytes[position ..< position + valueLength])
            position += valueLength
            try visit(RecordView(offset: header.firstOffset + Int64(index), timestamp: TimestampMs(timestamp), key: key, value: value))
        }
        return header
    }

    /// Builds a payload record by record (the leader, and storage rebuilding an entry from its
    /// records rows). One growing array, no per-record allocation.
    public struct Builder: Sendable {
        public private(set) var bytes: [UInt8]
        public private(set) var count = 0
        public let firstOffset: Offset

        /// `capacity`: the expected payload size in bytes, to reserve once.
        public init(firstOffset: Offset, capacity: Int = 0) {
            precondition(firstOffset.rawValue >= 0, "RecordBatch: negative first offset \(firstOffset)")
            self.firstOffset = firstOffset
            bytes = []
            bytes.reserveCapacity(max(capacity, RecordBatch.headerBytes))
            Self.appendU64(&bytes, UInt64(firstOffset.rawValue))
            Self.appendU32(&bytes, 0)
        }

        /// Appends the record at offset `firstOffset + count`.
        public mutating func append(timestamp: TimestampMs, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer) {
            precondition(count < Int(UInt32.max), "RecordBatch: too many records")
            precondition(value.count <= Int(UInt32.max) && (key?.count ?? 0) <= Int(Int32.max), "RecordBatch: record too large")
            Self.appendU64(&bytes, UInt64(bitPattern: timestamp.rawValue))
            if let key {
                Self.appendU32(&bytes, UInt32(key.count))
                bytes.append(contentsOf: key)
            } else {
                Self.appendU32(&bytes, UInt32(bitPattern: -1))
            }
            Self.appendU32(&bytes, UInt32(value.count))
            bytes.append(contentsOf: value)
            count += 1
        }

        /// Appends a record given as arrays (tests, small callers).
        public mutating func append(timestamp: TimestampMs, key: [UInt8]?, value: [UInt8]) {
            value.withUnsafeBytes { valueBytes in
                if let key {
                    key.withUnsafeBytes { append(timestamp: timestamp, key: $0, value: valueBytes) }
                } else {
                    append(timestamp: timestamp, key: nil, value: valueBytes)
                }
            }
        }

        /// The finished payload (the count written into the header).
        public func finish() -> [UInt8] {
            var result = bytes
            let count = UInt32(count)
            result[8] = UInt8(truncatingIfNeeded: count >> 24)
            result[9] = UInt8(truncatingIfNeeded: count >> 16)
            result[10] = UInt8(truncatingIfNeeded: count >> 8)
            result[11] = UInt8(truncatingIfNeeded: count)
            return result
        }

        // One append of the big-endian bytes, not one per byte: these run for every record.
        private static func appendU64(_ bytes: inout [UInt8], _ value: UInt64) {
            withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
        }

        private static func appendU32(_ bytes: inout [UInt8], _ value: UInt32) {
            withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
        }
    }

    static func readU64(_ bytes: UnsafeRawBufferPointer, at position: Int) -> UInt64 {
        UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self))
    }

    static func readU32(_ bytes: UnsafeRawBufferPointer, at position: Int) -> UInt32 {
        UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self))
    }
}
