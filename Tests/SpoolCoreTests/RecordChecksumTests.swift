import SpoolCore
import Testing

/// VERIFY's record checksum: the documented byte layout, and every field counts.
@Suite("Record checksum")
struct RecordChecksumTests {
    typealias Record = (offset: Int64, timestamp: Int64, key: [UInt8]?, value: [UInt8])

    static func sum(_ records: [Record]) -> RecordChecksum {
        var sum = RecordChecksum()
        for r in records {
            r.value.withUnsafeBytes { value in
                if let key = r.key {
                    key.withUnsafeBytes { sum.add(offset: Offset(r.offset), timestamp: TimestampMs(r.timestamp), key: $0, value: value) }
                } else {
                    sum.add(offset: Offset(r.offset), timestamp: TimestampMs(r.timestamp), key: nil, value: value)
                }
            }
        }
        return sum
    }

    static let records: [Record] = [(0, 1_700_000_000_000, nil, Array("hello".utf8)), (1, 1_700_000_000_001, [0x6B], []), (2, -1, [], [0xFF])]

    /// The value docs/protocol.md's definition gives, computed independently (a bitwise CRC-32C in
    /// Python over the bytes `struct.pack('>qqB', ...)` lays out).
    @Test func matchesTheDocumentedLayout() {
        let sum = Self.sum(Self.records)
        #expect(sum.hex == "bda93414")
        #expect(sum.records == 3)
        #expect(RecordChecksum().hex == "00000000")
    }

    @Test func everyFieldCounts() {
        let base = Self.sum(Self.records)
        var changed: [[Record]] = []
        for i in Self.records.indices {
            var r = Self.records
            r[i].offset += 10
            changed.append(r)
            r = Self.records
            r[i].timestamp += 1
            changed.append(r)
            r = Self.records
            r[i].value += [0]
            changed.append(r)
            r = Self.records
            r[i].key = r[i].key == nil ? [] : nil  // no key is not an empty key
            changed.append(r)
        }
        // A byte moved from the key to the value, and a record split in two, change it too.
        var moved = Self.records
        moved[1].key = []
        moved[1].value = [0x6B]
        changed.append(moved)
        changed.append([Self.records[0], Self.records[2]])
        for records in changed {
            #expect(Self.sum(records) != base, "\(records)")
        }
    }
}
