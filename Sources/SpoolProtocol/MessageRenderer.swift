import NIOCore
import SpoolCore

/// Renders records as `MSG <topic> <partition> <offset> <timestamp_ms> <key|-> <nbytes>\n<value>\n`.
///
/// This is the hot path of catch-up reads, so it allocates nothing per record: the
/// `MSG <topic> <partition> ` prefix is rendered once per batch (make one renderer per
/// topic-partition and reuse it), and each record is written with one capacity check straight
/// into the output buffer's memory, integers as ASCII digits.
public struct MessageRenderer: Sendable {
    /// `MSG <topic> <partition> ` (trailing space included).
    public let prefix: [UInt8]

    /// A renderer for records of one topic partition.
    public init(topic: TopicName, partition: PartitionID) {
        self.prefix = Self.prefix(topic: topic, partition: partition)
    }

    /// `MSG <topic> <partition> ` as bytes, for callers that keep their own prefix.
    public static func prefix(topic: TopicName, partition: PartitionID) -> [UInt8] {
        Array("MSG \(topic.value) \(partition.rawValue) ".utf8)
    }

    /// Appends one record to `buffer`.
    @inlinable
    public func render(_ record: RecordView, into buffer: inout ByteBuffer) {
        prefix.withUnsafeBytes { Self.render(record, prefix: $0, into: &buffer) }
    }

    /// The number of bytes `render` appends for `record`, for sizing a batch buffer up front.
    @inlinable
    public func renderedCount(_ record: RecordView) -> Int {
        Self.renderedCount(record, prefixCount: prefix.count)
    }

    @inlinable
    static func renderedCount(_ record: RecordView, prefixCount: Int) -> Int {
        prefixCount + decimalCount(record.offset.rawValue) + 1 + decimalCount(record.timestamp.rawValue) + 1
            + KeyCodec.renderedCount(record.key) + 1 + decimalCount(Int64(record.value.count)) + 1
            + record.value.count + 1
    }

    /// Appends one record to `buffer` after a prefix made by `prefix(topic:partition:)`.
    @inlinable
    public static func render(_ record: RecordView, prefix: UnsafeRawBufferPointer, into buffer: inout ByteBuffer) {
        let total = renderedCount(record, prefixCount: prefix.count)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { output in
            var at = 0
            if prefix.count > 0 {
                output.baseAddress!.copyMemory(from: prefix.baseAddress!, byteCount: prefix.count)
                at = prefix.count
            }
            at += writeDecimal(record.offset.rawValue, into: output, at: at)
            output[at] = UInt8(ascii: " ")
            at += 1
            at += writeDecimal(record.timestamp.rawValue, into: output, at: at)
            output[at] = UInt8(ascii: " ")
            at += 1
            at += KeyCodec.render(record.key, into: UnsafeMutableRawBufferPointer(rebasing: output[at...]))
            output[at] = UInt8(ascii: " ")
            at += 1
            at += writeDecimal(Int64(record.value.count), into: output, at: at)
            output[at] = UInt8(ascii: "\n")
            at += 1
            if record.value.count > 0 {
                (output.baseAddress! + at).copyMemory(from: record.value.baseAddress!, byteCount: record.value.count)
                at += record.value.count
            }
            output[at] = UInt8(ascii: "\n")
            at += 1
            precondition(at == total, "MSG length computed \(total) but wrote \(at)")
            return at
        }
    }

    /// The number of ASCII characters of `value` in decimal, sign included.
    @inlinable
    static func decimalCount(_ value: Int64) -> Int {
        var magnitude = value.magnitude
        var count = value < 0 ? 2 : 1
        while magnitude >= 10 {
            magnitude /= 10
            count += 1
        }
        return count
    }

    /// Writes `value` in decimal at `index`; returns the number of bytes written.
    @inlinable
    static func writeDecimal(_ value: Int64, into output: UnsafeMutableRawBufferPointer, at index: Int) -> Int {
        let count = decimalCount(value)
        var magnitude = value.magnitude
        var position = index + count - 1
        repeat {
            output[position] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
            magnitude /= 10
            position -= 1
        } while magnitude > 0
        if value < 0 { output[index] = UInt8(ascii: "-") }
        return count
    }
}
