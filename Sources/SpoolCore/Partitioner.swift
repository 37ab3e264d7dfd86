/// Chooses the partition of a record, bit for bit as Kafka's default partitioner does for keyed
/// records, so the same key lands on the same partition number in Spool and in Kafka.
public enum Partitioner {
    /// Kafka's `Utils.murmur2`: MurmurHash2, 32-bit, seed 0x9747b28c, little-endian words.
    public static func murmur2<Bytes: Collection>(_ data: Bytes) -> Int32 where Bytes.Element == UInt8 {
        if let hash = data.withContiguousStorageIfAvailable({ murmur2Buffer(UnsafeRawBufferPointer($0)) }) {
            return hash
        }
        return Array(data).withUnsafeBytes { murmur2Buffer($0) }
    }

    /// `murmur2` over raw bytes (no copy).
    public static func murmur2Buffer(_ data: UnsafeRawBufferPointer) -> Int32 {
        let length = data.count
        let seed: UInt32 = 0x9747_b28c
        let m: UInt32 = 0x5bd1_e995
        let r: UInt32 = 24
        var h: UInt32 = seed ^ UInt32(truncatingIfNeeded: length)
        let words = length / 4
        for i in 0..<words {
            let base = i * 4
            var k = UInt32(data[base]) | UInt32(data[base + 1]) << 8 | UInt32(data[base + 2]) << 16
                | UInt32(data[base + 3]) << 24
            k = k &* m
            k ^= k >> r
            k = k &* m
            h = h &* m
            h ^= k
        }
        let tail = length & ~3
        // Java's switch falls through from case 3 to case 1.
        switch length % 4 {
        case 3:
            h ^= UInt32(data[tail + 2]) << 16
            h ^= UInt32(data[tail + 1]) << 8
            h ^= UInt32(data[tail])
            h = h &* m
        case 2:
            h ^= UInt32(data[tail + 1]) << 8
            h ^= UInt32(data[tail])
            h = h &* m
        case 1:
            h ^= UInt32(data[tail])
            h = h &* m
        default:
            break
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }

    /// Kafka's `Utils.toPositive`: clears the sign bit (not `abs`, which overflows on Int32.min).
    public static func toPositive(_ value: Int32) -> Int32 { value & 0x7fff_ffff }

    /// The partition of a keyed record: `toPositive(murmur2(key)) % partitionCount`.
    public static func partition(forKey key: UnsafeRawBufferPointer, partitionCount: Int) -> PartitionID {
        precondition(partitionCount > 0, "a topic has at least one partition")
        return PartitionID(Int(toPositive(murmur2Buffer(key))) % partitionCount)
    }

    /// The partition of a keyed record given as a byte collection.
    public static func partition<Bytes: Collection>(forKey key: Bytes, partitionCount: Int) -> PartitionID
    where Bytes.Element == UInt8 {
        precondition(partitionCount > 0, "a topic has at least one partition")
        return PartitionID(Int(toPositive(murmur2(key))) % partitionCount)
    }
}
