extension RecordBatch {
    /// Gives a batch built before its place in the partition was known (with any first offset
    /// and timestamps) its first offset and one append timestamp for every record, in place: the
    /// partition leader does this when it turns a produce batch into a Raft entry, so the records
    /// are encoded once, by the producer's side, and never copied. nil (and nothing written) when
    /// the batch is malformed.
    @discardableResult
    public static func place(_ payload: inout [UInt8], firstOffset: Offset, timestamp: TimestampMs) -> Header? {
        precondition(firstOffset.rawValue >= 0, "RecordBatch: negative first offset \(firstOffset)")
        return payload.withUnsafeMutableBytes { bytes -> Header? in
            guard let header = header(of: UnsafeRawBufferPointer(bytes)),
                UInt64(firstOffset.rawValue) <= UInt64(Int64.max) - UInt64(header.count)
            else { return nil }
            writeU64(bytes, at: 0, UInt64(firstOffset.rawValue))
            var position = headerBytes
            for _ in 0 ..< header.count {
                writeU64(bytes, at: position, UInt64(bitPattern: timestamp.rawValue))
                let keyLength = Int32(bitPattern: readU32(UnsafeRawBufferPointer(bytes), at: position + 8))
                position += 12 + (keyLength >= 0 ? Int(keyLength) : 0)
                position += 4 + Int(readU32(UnsafeRawBufferPointer(bytes), at: position))
            }
            return Header(firstOffset: firstOffset, count: header.count)
        }
    }

    private static func writeU64(_ bytes: UnsafeMutableRawBufferPointer, at position: Int, _ value: UInt64) {
        bytes.storeBytes(of: value.bigEndian, toByteOffset: position, as: UInt64.self)
    }
}
