import NIOCore
import SpoolCore

/// The `PUB` reply, `OK <topic> <partition> <offset>\n` (or `-` for the offset of acks=none),
/// written as bytes straight into an output buffer.
///
/// The same words as `ReplyLine.published` plus its line end, without building a `String` or a
/// buffer per reply: a pipelined producer gets one of these per record, so it is on the hot path.
public enum PublishReply {
    /// Appends the reply and its `\n` to `buffer`.
    @inlinable
    public static func write(topic: TopicName, partition: PartitionID, offset: Offset?, into buffer: inout ByteBuffer) {
        var topicName = topic.value
        let topicCount = topicName.utf8.count
        let partitionValue = Int64(partition.rawValue)
        let total =
            3 + topicCount + 1 + MessageRenderer.decimalCount(partitionValue) + 1
            + (offset.map { MessageRenderer.decimalCount($0.rawValue) } ?? 1) + 1
        _ = topicName.withUTF8 { name in
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { output in
                output[0] = UInt8(ascii: "O")
                output[1] = UInt8(ascii: "K")
                output[2] = UInt8(ascii: " ")
                var at = 3
                if topicCount > 0 {
                    (output.baseAddress! + at).copyMemory(from: name.baseAddress!, byteCount: topicCount)
                    at += topicCount
                }
                output[at] = UInt8(ascii: " ")
                at += 1
                at += MessageRenderer.writeDecimal(partitionValue, into: output, at: at)
                output[at] = UInt8(ascii: " ")
                at += 1
                if let offset {
                    at += MessageRenderer.writeDecimal(offset.rawValue, into: output, at: at)
                } else {
                    output[at] = UInt8(ascii: "-")
                    at += 1
                }
                output[at] = UInt8(ascii: "\n")
                at += 1
                precondition(at == total, "PUB reply length computed \(total) but wrote \(at)")
                return at
            }
        }
    }
}
