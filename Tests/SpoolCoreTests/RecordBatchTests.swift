import SpoolCore
import Testing

@Suite("Record batch encoding", .timeLimit(.minutes(1)))
struct RecordBatchTests {
    struct Decoded: Equatable {
        var offset: Int64
        var timestamp: Int64
        var key: [UInt8]?
        var value: [UInt8]
    }

    static func decode(_ payload: [UInt8]) -> (RecordBatch.Header?, [Decoded]) {
        var records: [Decoded] = []
        let header = payload.withUnsafeBytes { bytes in
            RecordBatch.forEachRecord(in: bytes) { view in
                records.append(Decoded(offset: view.offset.rawValue, timestamp: view.timestamp.rawValue, key: view.key.map { Array($0) }, value: Array(view.value)))
            }
        }
        return (header, records)
    }

    @Test func encodesBigEndianExactlyAsSpecified() {
        var builder = RecordBatch.Builder(firstOffset: Offset(0x0102))
        builder.append(timestamp: TimestampMs(5), key: [0x41], value: [0x42, 0x43])
        builder.append(timestamp: TimestampMs(-1), key: nil, value: [])
        let expected: [UInt8] =
            [0, 0, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 2]  // first offset u64, count u32
            + [0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0x41, 0, 0, 0, 2, 0x42, 0x43]  // ts, key len, key, value len, value
            + [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]  // ts -1, no key (-1), empty value
        #expect(builder.finish() == expected)
        #expect(expected.count == RecordBatch.headerBytes
            + RecordBatch.encodedBytes(keyCount: 1, valueCount: 2) + RecordBatch.encodedBytes(keyCount: nil, valueCount: 0))
    }

    /// The leader places a producer's batch: its first offset and one timestamp for every record,
    /// written in place; keys and values are untouched, and a malformed batch is left alone.
    @Test func placeSetsTheFirstOffsetAndEveryTimestampInPlace() {
        var builder = RecordBatch.Builder(firstOffset: .zero)
        builder.append(timestamp: TimestampMs(1), key: Array("k".utf8), value: Array("one".utf8))
        builder.append(timestamp: TimestampMs(2), key: nil, value: [])
        builder.append(timestamp: TimestampMs(3), key: [], value: [9, 9])
        var payload = builder.finish()
        #expect(RecordBatch.place(&payload, firstOffset: Offset(500), timestamp: TimestampMs(77)) == RecordBatch.Header(firstOffset: Offset(500), count: 3))
        let (header, records) = Self.decode(payload)
        #expect(header == RecordBatch.Header(firstOffset: Offset(500), count: 3))
        #expect(records == [
            Decoded(offset: 500, timestamp: 77, key: Array("k".utf8), value: Array("one".utf8)),
            Decoded(offset: 501, timestamp: 77, key: nil, value: []),
            Decoded(offset: 502, timestamp: 77, key: [], value: [9, 9]),
        ])
        var broken = Array(payload.dropLast())
        let before = broken
        #expect(RecordBatch.place(&broken, firstOffset: Offset(1), timestamp: TimestampMs(1)) == nil)
        #expect(broken == before)
    }

    @Test func roundTripsKeysValuesTimestampsAndOffsets() {
        var builder = RecordBatch.Builder(firstOffset: Offset(41))
        let records = [
            Decoded(offset: 41, timestamp: 1_700_000_000_000, key: Array("user-42".utf8), value: Array("{\"a\":1}".utf8)),
            Decoded(offset: 42, timestamp: 1_700_000_000_001, key: nil, value: [0, 255, 7]),
            Decoded(offset: 43, timestamp: 1_700_000_000_001, key: [], value: []),
        ]
        for record in records { builder.append(timestamp: TimestampMs(record.timestamp), key: record.key, value: record.value) }
        let (header, decoded) = Self.decode(builder.finish())
        #expect(header == RecordBatch.Header(firstOffset: Offset(41), count: 3))
        #expect(header?.endOffset == Offset(44))
        #expect(decoded == records)
    }

    @Test func anEmptyBatchIsWellFormed() {
        let (header, decoded) = Self.decode(RecordBatch.Builder(firstOffset: Offset(9)).finish())
        #expect(header == RecordBatch.Header(firstOffset: Offset(9), count: 0))
        #expect(decoded.isEmpty)
    }

    @Test func rejectsEveryTruncationAndTrailingBytesWithoutVisiting() {
        var builder = RecordBatch.Builder(firstOffset: .zero)
        builder.append(timestamp: TimestampMs(1), key: [1, 2], value: [3, 4, 5])
        builder.append(timestamp: TimestampMs(2), key: nil, value: [6])
        let payload = builder.finish()
        for length in 0 ..< payload.count {
            let (header, decoded) = Self.decode(Array(payload[..<length]))
            #expect(header == nil, "prefix of \(length) bytes accepted")
            #expect(decoded.isEmpty)
        }
        #expect(Self.decode(payload + [0]).0 == nil)
    }

    @Test func rejectsBadLengthsAndOffsetsThatOverflow() {
        var keyTooShort: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] + [0, 0, 0, 0, 0, 0, 0, 0]
        keyTooShort += [0xff, 0xff, 0xff, 0xfe] + [0, 0, 0, 0]  // key length -2
        #expect(Self.decode(keyTooShort).0 == nil)
        let countTooLarge: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]
        #expect(Self.decode(countTooLarge).0 == nil)
        let offsetTooLarge: [UInt8] = [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1] + [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]
        #expect(Self.decode(offsetTooLarge).0 == nil)
        let valueTooLong: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] + [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 9, 1]
        #expect(Self.decode(valueTooLong).0 == nil)
    }
}
